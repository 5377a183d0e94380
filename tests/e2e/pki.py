"""Test certificates made with the openssl CLI, in a test's temp dir.

Shapes follow the Go original's usage-example fixtures (go-original.md §9):
a root CA, an intermediate, leaves whose files hold the whole chain (leaf,
intermediate, root), RSA keys in PKCS#1 ("BEGIN RSA PRIVATE KEY") as the
original's, ECDSA keys where a test wants them.
"""
import os
import subprocess


def openssl(cwd, *args):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


class Cert:
    def __init__(self, pki, name, issuer):
        self.pki = pki
        self.name = name
        self.issuer = issuer
        d = pki.dir
        self.key = os.path.join(d, f"{name}.key")
        self.crt = os.path.join(d, f"{name}.crt")         # this certificate only
        self.chain = os.path.join(d, f"{name}+chain.crt")  # it and its issuers, leaf first

    def write_chain(self):
        parts = []
        c = self
        while c is not None:
            with open(c.crt) as f:
                parts.append(f.read())
            c = c.issuer
        with open(self.chain, "w") as f:
            f.write("".join(parts))


class Pki:
    def __init__(self, directory):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.serial = 0x1000

    def _run(self, *args):
        return openssl(self.dir, *args)

    def _key(self, path, kind):
        if kind == "rsa":
            self._run("genrsa", "-traditional", "-out", path, "2048")
        elif kind == "ec":
            self._run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
        else:
            raise ValueError(kind)
        os.chmod(path, 0o600)

    def _ext(self, name, lines):
        path = os.path.join(self.dir, f"{name}.ext")
        with open(path, "w") as f:
            f.write("[v3]\n" + "\n".join(lines) + "\n")
        return path

    def _sign(self, cert, csr, ext, days, expired):
        issuer = cert.issuer
        self.serial += 1
        if not expired:
            self._run("x509", "-req", "-in", csr, "-CA", issuer.crt, "-CAkey", issuer.key,
                      "-set_serial", str(self.serial), "-days", str(days), "-sha256",
                      "-extfile", ext, "-extensions", "v3", "-out", cert.crt)
            return
        # openssl x509 cannot date a certificate in the past; openssl ca can.
        cadir = os.path.join(self.dir, "ca-db")
        os.makedirs(cadir, exist_ok=True)
        open(os.path.join(cadir, "index.txt"), "w").close()
        with open(os.path.join(cadir, "serial"), "w") as f:
            f.write(f"{self.serial:04X}\n")
        cnf = os.path.join(cadir, "ca.cnf")
        with open(cnf, "w") as f:
            f.write(f"[ca]\ndefault_ca = d\n[d]\ndatabase = {cadir}/index.txt\nnew_certs_dir = {cadir}\n"
                    f"serial = {cadir}/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                    "[p]\ncommonName = supplied\n")
        self._run("ca", "-batch", "-config", cnf, "-cert", issuer.crt, "-keyfile", issuer.key,
                  "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", "-preserveDN",
                  "-extfile", ext, "-extensions", "v3", "-notext", "-in", csr, "-out", cert.crt)

    def root(self, name, subject, kind="rsa", days=3650):
        c = Cert(self, name, None)
        self._key(c.key, kind)
        self._run("req", "-x509", "-new", "-key", c.key, "-subj", subject, "-days", str(days), "-sha256",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                  "-addext", "subjectKeyIdentifier=hash", "-out", c.crt)
        c.write_chain()
        return c

    def intermediate(self, name, subject, issuer, kind="ec", days=3650):
        c = Cert(self, name, issuer)
        self._key(c.key, kind)
        csr = os.path.join(self.dir, f"{name}.csr")
        self._run("req", "-new", "-key", c.key, "-subj", subject, "-out", csr)
        ext = self._ext(name, ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign",
                               "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"])
        self._sign(c, csr, ext, days, False)
        c.write_chain()
        return c

    def leaf(self, name, cn, issuer, kind="ec", dns=(), ips=(), eku="serverAuth,clientAuth",
             days=365, expired=False):
        """A leaf like the original's: KU digitalSignature(+keyEncipherment
        for RSA), the EKU given, SANs; name.chain = leaf + issuers."""
        c = Cert(self, name, issuer)
        self._key(c.key, kind)
        csr = os.path.join(self.dir, f"{name}.csr")
        self._run("req", "-new", "-key", c.key, "-subj", f"/CN={cn}", "-out", csr)
        ku = "digitalSignature,keyEncipherment" if kind == "rsa" else "digitalSignature"
        lines = ["basicConstraints=critical,CA:FALSE", f"keyUsage=critical,{ku}",
                 "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"]
        if eku:
            lines.append(f"extendedKeyUsage={eku}")
        sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext = self._ext(name, lines)
        self._sign(c, csr, ext, days, expired)
        c.write_chain()
        return c


def original_fixtures(directory):
    """The usage example's set, same names and chain layout:
    InternalCA+chain.crt (root, RSA), an intermediate (ECDSA),
    localhost+chain.crt / localhost.key (RSA, PKCS#1),
    TestClient1@example.com+chain.crt / .key (ECDSA), both leaves with
    EKU serverAuth+clientAuth and files holding leaf, intermediate, root."""
    p = Pki(directory)
    root = p.root("InternalCA", "/C=NA/ST=NA/L=NA/O=NA/OU=NA/CN=InternalCA", kind="rsa")
    inter = p.intermediate("InternalIntermediateCA", "/CN=InternalIntermediateCA", root, kind="ec")
    server = p.leaf("localhost", "localhost", inter, kind="rsa", dns=["localhost"], ips=["127.0.0.1"])
    client = p.leaf("TestClient1@example.com", "TestClient1@example.com", inter, kind="ec",
                    dns=["TestClient1@example.com"])
    return p, root, inter, server, client
