// threshold_peer: an emulator of the ORIGINAL Go threshold's control
// protocol (../shared/spec/go-original.md §2), for interop tests of our
// client (-mode server) and of our server (-mode client). It speaks the
// original's bytes exactly; it uses hashicorp/yamux (Debian's
// golang-github-hashicorp-yamux-dev, wire-identical to the pinned version)
// with its default config, as the original did.
//
// -mode server: the Go threshold server.
//
//	Control port (-listen): an HTTP server; `CONNECT /_controlPath/` with
//	X-Threshold-Identifier (or X-Threshold-ClientId) is answered with exactly
//	"HTTP/1.1 200 Connected to Tunnel\n\n" after hijacking the socket (no
//	feature negotiation: a Go server ignores X-Threshold-Features), then a
//	yamux server session; the first stream must carry "controlHandshake"
//	(16 bytes), answered with "controlOk". A second CONNECT for a connected
//	identifier kicks the old session and is refused with 502, as the
//	original does.
//	Public ports (-tunnel ADDR=SERVICE[,proxy], repeatable): each visitor's
//	first chunk (<= 1024 bytes) is read, `{"action":1,"service":"<svc>"}\n`
//	is written on the control stream (Go's json.Encoder), and the next
//	stream the client opens is paired with it — strictly first in, first out
//	(the original's intent; its own accept race is not reproduced). A
//	visitor waits 10 s for its stream; a stream arriving for a visitor that
//	gave up is closed. Then the PROXY v1 line (",proxy"), the peeked bytes,
//	and the original's copy semantics: the first direction to end closes
//	both the stream and the visitor.
//	Once every listener is bound, -portfile gets "pid <pid>", "control
//	<port>" and "tunnel<i> <port>" lines. Events go to stdout, one line each:
//	"CONNECT id=<id> header=<name> features=<value>", "CONNECTED <id>",
//	"DISCONNECTED <id> <err>", "VISITOR <i> <addr> stream=<id>", ...
//
// -tls (both modes): TLS as the original does it, with crypto/tls.
//
//	Server: -tls-cert/-tls-key (chain file, leaf first), client
//	certificates required and verified against -tls-ca (every certificate
//	in the file); with -domain the CN must equal "<id>@<domain>"
//	(40388c2), otherwise the header id is not checked (4b75a35).
//	Client: verifies the server against -tls-ca and the host part of
//	-server (or -tls-server-name), presents -tls-cert/-tls-key.
//
// -mode client: the Go threshold client.
//
//	Dials -server host:port, writes the original's CONNECT request (Go's
//	Request.Write: Host = the resolved peer address, User-Agent
//	Go-http-client/1.1, X-Threshold-Identifier or with -header clientid
//	X-Threshold-ClientId), requires status "200 Connected to Tunnel", yamux
//	client, opens stream 1, writes controlHandshake, expects controlOk, then
//	decodes control messages; for each it opens a stream at once, in order
//	(even for an unknown service), looks the service up in the -service
//	name=host:port map, dials it (10 s) and copies both ways, each direction
//	closing both ends when it ends. Reconnects with the original's backoff
//	unless -once. Prints "CONNECTED <server>" and "DISCONNECTED <err>".
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"log"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

const (
	controlPath      = "/_controlPath/"
	handshakeRequest = "controlHandshake"
	handshakeOk      = "controlOk"
	okResponse       = "HTTP/1.1 200 Connected to Tunnel\n\n"
	streamTimeout    = 10 * time.Second
	dialTimeout      = 10 * time.Second
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

var (
	fMode     = flag.String("mode", "", "server or client")
	fListen   = flag.String("listen", "127.0.0.1:0", "server: control address")
	fPortFile = flag.String("portfile", "", "server: write the bound ports here")
	fClientID = flag.String("client", "TestClient1", "server: client id the tunnels route to")
	fTunnels  listFlag
	fServer   = flag.String("server", "", "client: control address of the server (host:port)")
	fID       = flag.String("id", "TestClient1", "client: ClientIdentifier")
	fHeader   = flag.String("header", "identifier", "client: identity header: identifier (4b75a35) or clientid (later)")
	fServices listFlag
	fOnce     = flag.Bool("once", false, "client: exit when the first session ends (or the first attempt fails)")
	fVerbose  = flag.Bool("v", false, "log more")
	fTLS      = flag.Bool("tls", false, "TLS on the control connection (see -tls-*)")
	fTLSCert  = flag.String("tls-cert", "", "TLS: our certificate chain file (PEM, leaf first)")
	fTLSKey   = flag.String("tls-key", "", "TLS: our private key file (PEM)")
	fTLSCA    = flag.String("tls-ca", "", "TLS: CA file the peer's certificate must chain to")
	fTLSName  = flag.String("tls-server-name", "", "client TLS: name to verify (default: host of -server)")
	fDomain   = flag.String("domain", "", "server TLS: require CN <id>@<domain> (later original); empty: no CN check (4b75a35)")
	fDelayOne = flag.Duration("delay-first-open", 0, "client: wait this long before opening the stream for the first control message (to test the server's abandoned pairing slots)")
)

var (
	outMu  sync.Mutex
	logger = log.New(os.Stderr, "threshold_peer: ", log.Lmicroseconds)
)

// event prints one line on stdout (the test's readiness signals).
func event(format string, args ...interface{}) {
	outMu.Lock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
	outMu.Unlock()
}

func vlog(format string, args ...interface{}) {
	if *fVerbose {
		logger.Printf(format, args...)
	}
}

func main() {
	flag.Var(&fTunnels, "tunnel", "server: public listener ADDR=SERVICE[,proxy] (repeatable)")
	flag.Var(&fServices, "service", "client: NAME=HOST:PORT (repeatable)")
	flag.Parse()
	switch *fMode {
	case "server":
		runServer()
	case "client":
		os.Exit(runClient())
	default:
		fmt.Fprintln(os.Stderr, "usage: threshold_peer -mode server|client ...")
		os.Exit(2)
	}
}

// ---- TLS ----

func loadKeyPair() tls.Certificate {
	c, err := tls.LoadX509KeyPair(*fTLSCert, *fTLSKey)
	if err != nil {
		logger.Fatalf("TLS key pair %s / %s: %v", *fTLSCert, *fTLSKey, err)
	}
	return c
}

func loadPool() *x509.CertPool {
	pem, err := ioutil.ReadFile(*fTLSCA)
	if err != nil {
		logger.Fatalf("TLS CA file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		logger.Fatalf("TLS CA file %s: no certificate", *fTLSCA)
	}
	return pool
}

// ---- server ----

type controlMessage struct {
	Action  int    `json:"action"`
	Service string `json:"service"`
}

// waiter is one visitor waiting for its stream.
type waiter struct {
	ch        chan *yamux.Stream
	abandoned bool
}

type control struct {
	id      string
	session *yamux.Session
	stream  *yamux.Stream
	mu      sync.Mutex // message write + queue push are one step
	enc     *json.Encoder
	queue   []*waiter
}

type server struct {
	mu       sync.Mutex
	controls map[string]*control
}

type tunnel struct {
	index   int
	service string
	proxy   bool
	ln      net.Listener
}

func runServer() {
	srv := &server{controls: map[string]*control{}}
	var tunnels []*tunnel
	for i, t := range fTunnels {
		eq := strings.LastIndex(t, "=")
		if eq < 0 {
			logger.Fatalf("bad -tunnel %q (want ADDR=SERVICE[,proxy])", t)
		}
		addr, rest := t[:eq], t[eq+1:]
		parts := strings.Split(rest, ",")
		tu := &tunnel{index: i, service: parts[0]}
		for _, p := range parts[1:] {
			if p == "proxy" {
				tu.proxy = true
			} else {
				logger.Fatalf("bad -tunnel option %q", p)
			}
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			logger.Fatalf("listen %s: %v", addr, err)
		}
		tu.ln = ln
		tunnels = append(tunnels, tu)
	}
	cln, err := net.Listen("tcp", *fListen)
	if err != nil {
		logger.Fatalf("listen %s: %v", *fListen, err)
	}
	if *fTLS {
		// As the original's ListenAndServeTLS: client certificates
		// required and verified against the CA file.
		cln = tls.NewListener(cln, &tls.Config{
			Certificates: []tls.Certificate{loadKeyPair()},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    loadPool(),
		})
	}
	if *fPortFile != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "pid %d\n", os.Getpid())
		fmt.Fprintf(&b, "control %d\n", cln.Addr().(*net.TCPAddr).Port)
		for _, tu := range tunnels {
			fmt.Fprintf(&b, "tunnel%d %d\n", tu.index, tu.ln.Addr().(*net.TCPAddr).Port)
		}
		tmp := *fPortFile + ".tmp"
		if err := ioutil.WriteFile(tmp, []byte(b.String()), 0644); err != nil {
			logger.Fatal(err)
		}
		if err := os.Rename(tmp, *fPortFile); err != nil {
			logger.Fatal(err)
		}
	}
	for _, tu := range tunnels {
		go srv.serveTunnel(tu)
	}
	hs := &http.Server{Handler: http.HandlerFunc(srv.handle)}
	logger.Fatal(hs.Serve(cln))
}

func (srv *server) handle(w http.ResponseWriter, r *http.Request) {
	if path.Clean(r.URL.Path)+"/" != controlPath {
		http.Error(w, "404 not found", http.StatusNotFound)
		return
	}
	if r.Method != "CONNECT" {
		http.Error(w, "405 must CONNECT\n", http.StatusMethodNotAllowed)
		return
	}
	header := "X-Threshold-Identifier"
	id := r.Header.Get(header)
	if id == "" {
		header = "X-Threshold-ClientId"
		id = r.Header.Get(header)
	}
	event("CONNECT id=%s header=%s features=%q useragent=%q host=%q", id, header,
		r.Header.Get("X-Threshold-Features"), r.Header.Get("User-Agent"), r.Host)
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		cn := r.TLS.PeerCertificates[0].Subject.CommonName
		event("TLS id=%s cn=%s version=%x", id, cn, r.TLS.Version)
		if *fDomain != "" && cn != id+"@"+*fDomain {
			// 40388c2's check and message.
			http.Error(w, fmt.Sprintf("\"X-Threshold-ClientId: %s\" does not match TLS certificate CommonName %s", id, cn),
				http.StatusBadGateway)
			return
		}
	}
	srv.mu.Lock()
	old := srv.controls[id]
	if old != nil {
		delete(srv.controls, id)
	}
	srv.mu.Unlock()
	if old != nil {
		// The original: close the old control and session, refuse this one.
		old.stream.Close()
		old.session.GoAway()
		old.session.Close()
		event("KICKED %s", id)
		http.Error(w, fmt.Sprintf("control conn for %s already exist. \n", id), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "webserver doesn't support hijacking", http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		logger.Printf("hijack: %v", err)
		return
	}
	if _, err := io.WriteString(conn, okResponse); err != nil {
		conn.Close()
		return
	}
	session, err := yamux.Server(conn, yamux.DefaultConfig())
	if err != nil {
		conn.Close()
		return
	}
	fail := func(why string) {
		event("HANDSHAKE_FAILED %s %s", id, why)
		session.GoAway()
		session.Close()
	}
	type acc struct {
		s   *yamux.Stream
		err error
	}
	ach := make(chan acc, 1)
	go func() { s, err := session.AcceptStream(); ach <- acc{s, err} }()
	var stream *yamux.Stream
	select {
	case a := <-ach:
		if a.err != nil {
			fail(a.err.Error())
			return
		}
		stream = a.s
	case <-time.After(streamTimeout):
		fail("timeout getting session")
		return
	}
	buf := make([]byte, len(handshakeRequest))
	stream.SetReadDeadline(time.Now().Add(streamTimeout))
	if _, err := io.ReadFull(stream, buf); err != nil || string(buf) != handshakeRequest {
		fail(fmt.Sprintf("handshake aborted. got: %q (%v)", buf, err))
		return
	}
	stream.SetReadDeadline(time.Time{})
	if _, err := io.WriteString(stream, handshakeOk); err != nil {
		fail(err.Error())
		return
	}
	ct := &control{id: id, session: session, stream: stream, enc: json.NewEncoder(stream)}
	srv.mu.Lock()
	srv.controls[id] = ct
	srv.mu.Unlock()
	event("CONNECTED %s", id)
	go srv.dispatch(ct)
	go srv.readControl(ct)
}

// readControl decodes (and ignores) what the client sends on stream 1 until
// it fails, then drops the control, as the original does.
func (srv *server) readControl(ct *control) {
	dec := json.NewDecoder(ct.stream)
	var err error
	for {
		var m controlMessage
		if err = dec.Decode(&m); err != nil {
			break
		}
		vlog("control message from %s: %+v", ct.id, m)
	}
	srv.mu.Lock()
	if srv.controls[ct.id] == ct {
		delete(srv.controls, ct.id)
	}
	srv.mu.Unlock()
	ct.stream.Close()
	ct.session.GoAway()
	ct.session.Close()
	event("DISCONNECTED %s %v", ct.id, err)
}

// dispatch pairs the client's streams with the waiting visitors, in order.
func (srv *server) dispatch(ct *control) {
	for {
		s, err := ct.session.AcceptStream()
		if err != nil {
			ct.mu.Lock()
			for _, w := range ct.queue {
				close(w.ch)
			}
			ct.queue = nil
			ct.mu.Unlock()
			return
		}
		ct.mu.Lock()
		var w *waiter
		if len(ct.queue) > 0 {
			w = ct.queue[0]
			ct.queue = ct.queue[1:]
		}
		if w == nil || w.abandoned {
			ct.mu.Unlock()
			event("STREAM_UNPAIRED %d", s.StreamID())
			s.Close()
			continue
		}
		w.ch <- s // buffered, never blocks
		ct.mu.Unlock()
	}
}

func (srv *server) serveTunnel(tu *tunnel) {
	for {
		c, err := tu.ln.Accept()
		if err != nil {
			logger.Printf("tunnel%d accept: %v", tu.index, err)
			return
		}
		go srv.visitor(tu, c)
	}
}

func proxyLine(c net.Conn) string {
	remote := c.RemoteAddr().(*net.TCPAddr)
	local := c.LocalAddr().(*net.TCPAddr)
	proto := "TCP4"
	if strings.Contains(local.IP.String(), ":") {
		proto = "TCP6"
	}
	return fmt.Sprintf("PROXY %s %s %s %d %d\r\n", proto, remote.IP.String(), local.IP.String(),
		remote.Port, local.Port)
}

func (srv *server) visitor(tu *tunnel, c net.Conn) {
	// The original's routing read: one chunk of up to 1024 bytes.
	peek := make([]byte, 1024)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := c.Read(peek)
	c.SetReadDeadline(time.Time{})
	if err != nil && err != io.EOF {
		c.Close()
		return
	}
	peek = peek[:n]
	srv.mu.Lock()
	ct := srv.controls[*fClientID]
	srv.mu.Unlock()
	if ct == nil {
		event("VISITOR_REFUSED tunnel%d %s no client session established", tu.index, c.RemoteAddr())
		c.Close()
		return
	}
	w := &waiter{ch: make(chan *yamux.Stream, 1)}
	ct.mu.Lock()
	err = ct.enc.Encode(controlMessage{Action: 1, Service: tu.service})
	if err == nil {
		ct.queue = append(ct.queue, w)
	}
	ct.mu.Unlock()
	if err != nil {
		event("VISITOR_REFUSED tunnel%d %s control write: %v", tu.index, c.RemoteAddr(), err)
		c.Close()
		return
	}
	var s *yamux.Stream
	select {
	case s = <-w.ch:
	case <-time.After(streamTimeout):
		ct.mu.Lock()
		select {
		case s = <-w.ch: // arrived just now
		default:
			w.abandoned = true
		}
		ct.mu.Unlock()
	}
	if s == nil {
		event("VISITOR_TIMEOUT tunnel%d %s timeout getting session", tu.index, c.RemoteAddr())
		c.Close()
		return
	}
	event("VISITOR tunnel%d %s stream=%d", tu.index, c.RemoteAddr(), s.StreamID())
	if tu.proxy {
		io.WriteString(s, proxyLine(c))
	}
	if len(peek) > 0 {
		s.Write(peek)
	}
	join(s, c)
}

// join: the original's copy semantics, the first end closes both.
func join(a io.ReadWriteCloser, b io.ReadWriteCloser) {
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			a.Close()
			b.Close()
		})
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(a, b); closeBoth(); done <- struct{}{} }()
	go func() { io.Copy(b, a); closeBoth(); done <- struct{}{} }()
	<-done
	<-done
}

// ---- client ----

// backoff: cenkalti/backoff v2.1.0 ExponentialBackOff as the original uses it.
type backoff struct{ cur time.Duration }

func (b *backoff) reset() { b.cur = 500 * time.Millisecond }
func (b *backoff) next() time.Duration {
	const max = 60 * time.Second
	c := float64(b.cur)
	d := time.Duration(c - 0.5*c + rand.Float64()*(c+1))
	if c >= float64(max)/1.5 {
		b.cur = max
	} else {
		b.cur = time.Duration(c * 1.5)
	}
	return d
}

func runClient() int {
	services := map[string]string{}
	for _, s := range fServices {
		eq := strings.Index(s, "=")
		if eq < 0 {
			logger.Printf("bad -service %q (want NAME=HOST:PORT)", s)
			return 2
		}
		services[s[:eq]] = s[eq+1:]
	}
	headerName := "X-Threshold-Identifier"
	switch *fHeader {
	case "identifier":
	case "clientid":
		headerName = "X-Threshold-ClientId"
	default:
		logger.Printf("bad -header %q", *fHeader)
		return 2
	}
	rand.Seed(time.Now().UnixNano())
	var bo backoff
	bo.reset()
	first := true
	for {
		if !first {
			time.Sleep(bo.next())
		}
		first = false
		connected, err := clientSession(headerName, services, &bo)
		if err != nil {
			event("DISCONNECTED %v", err)
		}
		if *fOnce {
			if connected {
				return 0
			}
			return 1
		}
	}
}

// bufConn reads through the bufio.Reader that parsed the answer.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// clientSession runs one connection; connected says whether the handshake
// succeeded.
func clientSession(headerName string, services map[string]string, bo *backoff) (bool, error) {
	var conn net.Conn
	var err error
	if *fTLS {
		host, _, _ := net.SplitHostPort(*fServer)
		if *fTLSName != "" {
			host = *fTLSName
		}
		cfg := &tls.Config{RootCAs: loadPool(), ServerName: host}
		if *fTLSCert != "" {
			cfg.Certificates = []tls.Certificate{loadKeyPair()}
		}
		tc, terr := tls.DialWithDialer(&net.Dialer{Timeout: dialTimeout}, "tcp", *fServer, cfg)
		if terr != nil {
			return false, terr
		}
		st := tc.ConnectionState()
		event("TLS_CONNECTED %s version=%x", *fServer, st.Version)
		conn = tc
	} else {
		conn, err = net.DialTimeout("tcp", *fServer, dialTimeout)
		if err != nil {
			return false, err
		}
	}
	defer conn.Close()
	remoteURL := fmt.Sprintf("http://%s%s", conn.RemoteAddr(), controlPath)
	req, err := http.NewRequest("CONNECT", remoteURL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set(headerName, *fID)
	if err := req.Write(conn); err != nil {
		return false, err
	}
	br := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(streamTimeout))
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return false, fmt.Errorf("read response: %v", err)
	}
	conn.SetReadDeadline(time.Time{})
	if resp.StatusCode != 200 || resp.Status != "200 Connected to Tunnel" {
		body, _ := ioutil.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, fmt.Errorf("tunnel server error: status=%d, body=%s", resp.StatusCode, string(body))
	}
	session, err := yamux.Client(&bufConn{conn, br}, yamux.DefaultConfig())
	if err != nil {
		return false, err
	}
	defer session.Close()
	stream, err := session.OpenStream()
	if err != nil {
		return false, err
	}
	if _, err := io.WriteString(stream, handshakeRequest); err != nil {
		return false, err
	}
	buf := make([]byte, len(handshakeOk))
	stream.SetReadDeadline(time.Now().Add(streamTimeout))
	if _, err := io.ReadFull(stream, buf); err != nil {
		return false, fmt.Errorf("handshake: %v", err)
	}
	if string(buf) != handshakeOk {
		return false, fmt.Errorf("invalid handshake response, received: %q", buf)
	}
	stream.SetReadDeadline(time.Time{})
	bo.reset()
	event("CONNECTED %s", *fServer)
	dec := json.NewDecoder(stream)
	for {
		var m controlMessage
		if err := dec.Decode(&m); err != nil {
			session.GoAway()
			return true, err
		}
		vlog("control message: %+v", m)
		if *fDelayOne > 0 {
			event("DELAYING_OPEN %s %v", m.Service, *fDelayOne)
			time.Sleep(*fDelayOne)
			*fDelayOne = 0
		}
		s, err := session.OpenStream()
		if err != nil {
			session.GoAway()
			return true, fmt.Errorf("open stream: %v", err)
		}
		go serveStream(s, m.Service, services)
	}
}

func serveStream(s *yamux.Stream, service string, services map[string]string) {
	addr, ok := services[service]
	if !ok {
		event("UNKNOWN_SERVICE %s stream=%d", service, s.StreamID())
		logger.Printf("TCPProxy.Proxy(): FetchLocalAddr('%s') returned service not configured. See ServiceToLocalAddrMap in client config file.", service)
		s.Close()
		return
	}
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		event("DIAL_FAILED %s %s stream=%d: %v", service, addr, s.StreamID(), err)
		s.Close()
		return
	}
	vlog("stream %d -> %s (%s)", s.StreamID(), service, addr)
	join(s, c)
}
