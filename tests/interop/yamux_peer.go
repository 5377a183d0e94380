// yamux_peer: the Go half of the yamux interop test (tests/interop/run.sh).
//
// It runs one scenario over one TCP connection on the loopback against
// build/<b>/tools/mux_peer (our C engine), using the reference
// hashicorp/yamux (Debian's golang-github-hashicorp-yamux-dev, wire-identical
// to the version pinned by the Go original). It exits 0 when every check
// passed and non-zero with a "FAIL:" line on stderr otherwise.
//
// Per-stream protocol (both directions of every stream):
//
//	header, 32 bytes, big-endian:
//	  0  4  magic "TIOP"
//	  4  1  dir: 0 = opener->acceptor, 1 = acceptor->opener
//	  5  1  opener side: 0 = the C side, 1 = the Go side
//	  6  2  reserved, 0
//	  8  4  stream index (per opener side, 0..streams-1)
//	 12  4  reserved, 0
//	 16  8  seed
//	 24  8  payload length that follows the header in this direction
//	payload: splitmix64 byte stream keyed by (seed, index, opener, dir),
//	  see newPRNG; the receiver regenerates it and compares SHA-256 digests.
//
// Pinned yamux semantics the scenarios are built around: a Go stream that
// has called Close() returns EOF from Read as soon as its buffer is
// momentarily empty, so Go never reads after it has closed; Go may still
// write after the peer's FIN.
//
// -mirror makes this program play the C side's part where pinned Go can
// (bulk, ping, goaway, window, halfclose-go); it exists only to sanity-check
// this program Go<->Go.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
)

const (
	hdrLen        = 32
	initialWindow = 256 * 1024
	sideC         = 0
	sideGo        = 1
	chunk         = 64 * 1024
)

var (
	fRole     = flag.String("role", "", "yamux role: server or client")
	fListen   = flag.String("listen", "", "listen on ADDR (loopback), accept one connection")
	fConnect  = flag.String("connect", "", "connect to ADDR (loopback)")
	fPortFile = flag.String("portfile", "", "with -listen: write the bound port here once listening")
	fScenario = flag.String("scenario", "", "bulk|halfclose-c|halfclose-go|ping|goaway|window|linger")
	fStreams  = flag.Int("streams", 64, "streams opened by each side")
	fBytes    = flag.Int64("bytes", 8<<20, "payload bytes per stream and direction")
	fSeed     = flag.Uint64("seed", 1, "seed of the payload generator")
	fPings    = flag.Int("pings", 10, "ping scenario: least number of pings each way")
	fTimeout  = flag.Duration("timeout", 120*time.Second, "bound on the whole run")
	fWindow   = flag.Uint("window", 8<<20, "window scenario: receive window the C side grants")
	fMirror   = flag.Bool("mirror", false, "play the C side's part (Go<->Go sanity runs only)")
	fVerbose  = flag.Bool("v", false, "log every stream")
	fCorrupt  = flag.Int64("selftest-corrupt", -1, "flip payload byte N of our stream #0 (checks that the C side notices)")
)

var (
	start   = time.Now()
	mySide  = sideGo
	logger  = log.New(os.Stderr, "", 0)
	failMu  sync.Mutex
	failed  bool
	session *yamux.Session
)

func logf(format string, a ...interface{}) {
	logger.Printf("go[%7.3fs] %s", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
}

// fail reports the first failure and exits; later failures are noise.
func fail(format string, a ...interface{}) {
	failMu.Lock()
	if !failed {
		failed = true
		logf("FAIL: %s", fmt.Sprintf(format, a...))
		dumpProgress()
		if session != nil {
			logf("session: closed=%v streams=%d", session.IsClosed(), session.NumStreams())
		}
		os.Exit(1)
	}
	failMu.Unlock()
	select {}
}

// ---- payload generator (identical to mux_peer.c) ----

type prng struct {
	s     uint64
	left  [8]byte
	nleft int
}

func newPRNG(seed uint64, index uint32, opener, dir int) *prng {
	k := uint64(index)*4 + uint64(opener)*2 + uint64(dir)
	return &prng{s: seed ^ (k * 0xD1B54A32D192ED03)}
}

func (g *prng) next() uint64 {
	g.s += 0x9E3779B97F4A7C15
	z := g.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (g *prng) fill(b []byte) {
	for len(b) > 0 && g.nleft > 0 {
		b[0] = g.left[8-g.nleft]
		g.nleft--
		b = b[1:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, g.next())
		b = b[8:]
	}
	if len(b) > 0 {
		binary.LittleEndian.PutUint64(g.left[:], g.next())
		g.nleft = 8
		for len(b) > 0 {
			b[0] = g.left[8-g.nleft]
			g.nleft--
			b = b[1:]
		}
	}
}

// ---- stream header ----

type header struct {
	dir, opener int
	index       uint32
	seed        uint64
	length      uint64
}

func (h header) encode() []byte {
	b := make([]byte, hdrLen)
	copy(b, "TIOP")
	b[4] = byte(h.dir)
	b[5] = byte(h.opener)
	binary.BigEndian.PutUint32(b[8:], h.index)
	binary.BigEndian.PutUint64(b[16:], h.seed)
	binary.BigEndian.PutUint64(b[24:], h.length)
	return b
}

func decodeHeader(b []byte) (header, error) {
	if string(b[:4]) != "TIOP" || b[6] != 0 || b[7] != 0 || binary.BigEndian.Uint32(b[12:]) != 0 {
		return header{}, fmt.Errorf("bad header % x", b)
	}
	return header{dir: int(b[4]), opener: int(b[5]), index: binary.BigEndian.Uint32(b[8:]),
		seed: binary.BigEndian.Uint64(b[16:]), length: binary.BigEndian.Uint64(b[24:])}, nil
}

// ---- progress, for failure dumps ----

type progress struct {
	name           string
	id             uint32
	sent, received int64
	state          atomic.Value // string
}

var (
	progMu sync.Mutex
	progs  []*progress
)

func newProgress(name string, id uint32) *progress {
	p := &progress{name: name, id: id}
	p.state.Store("new")
	progMu.Lock()
	progs = append(progs, p)
	progMu.Unlock()
	return p
}

func dumpProgress() {
	progMu.Lock()
	defer progMu.Unlock()
	n := 0
	for _, p := range progs {
		st := p.state.Load().(string)
		if st == "done" {
			continue
		}
		if n < 40 {
			logf("  stream %s id=%d state=%s sent=%d received=%d", p.name, p.id, st,
				atomic.LoadInt64(&p.sent), atomic.LoadInt64(&p.received))
		}
		n++
	}
	logf("  %d of %d streams not done", n, len(progs))
}

// ---- the scenario plan ----

// How the local side drives one stream.
type mode int

const (
	modeConcurrent mode = iota // write and read at once; Go: Close after read EOF and write done
	modeRecvFirst              // read the peer to EOF, then write, then Close
	modeSendFirst              // write, Close; read nothing after the opener's header
)

type plan struct {
	mode      mode
	sendLen   uint64 // payload bytes this side writes
	recvLen   uint64 // payload bytes this side expects (verified unless skipRecv)
	skipRecv  bool   // never read the payload (halfclose-go, Go side)
	gate      chan struct{}
	onPayload func() // first payload byte from the peer (goaway)
}

type scenario struct {
	name string
	// Plan for streams opened by `opener`, driven by this side.
	planFor func(opener int) plan
	cfg     func(*yamux.Config)
	extra   func(done <-chan struct{}) error // runs beside the streams (ping)
	setup   func()
	after   func() error // after all streams finished (goaway checks)
}

func mustMirrorOK(name string) {
	if *fMirror {
		fail("scenario %s cannot be mirrored with pinned yamux (Go cannot read after Close)", name)
	}
}

var (
	goawayGate     = make(chan struct{})
	goawayChecked  int32
	goawayOnce     sync.Once
	goawayRefusals int32
)

// The yamux server side sends GoAway(0).
func goawaySender() bool { return *fRole == "server" }

func buildScenario(name string) scenario {
	n := uint64(*fBytes)
	both := func(m mode) func(int) plan {
		return func(int) plan { return plan{mode: m, sendLen: n, recvLen: n} }
	}
	switch name {
	case "bulk", "window":
		s := scenario{name: name, planFor: both(modeConcurrent)}
		if name == "window" && *fMirror {
			s.cfg = func(c *yamux.Config) { c.MaxStreamWindowSize = uint32(*fWindow) }
		}
		return s
	case "ping":
		return scenario{name: name, planFor: both(modeConcurrent), extra: pinger}
	case "halfclose-c", "linger":
		mustMirrorOK(name)
		// The C side writes and FINs first, whoever opened; Go reads to EOF,
		// then answers and closes. linger: the C side has released the
		// stream after its FIN, so its engine must discard and credit the
		// answer (or this Write stalls) and forget the stream at our FIN.
		return scenario{name: name, planFor: both(modeRecvFirst)}
	case "halfclose-go":
		// Go writes and closes first; C reads to EOF, then replies with
		// exactly one initial window (header included) and FINs. Go never
		// reads the reply: it cannot after Close.
		reply := uint64(initialWindow - hdrLen)
		return scenario{name: name, planFor: func(int) plan {
			if *fMirror {
				return plan{mode: modeRecvFirst, sendLen: reply, recvLen: n}
			}
			return plan{mode: modeSendFirst, sendLen: n, recvLen: reply, skipRecv: true}
		}}
	case "goaway":
		s := scenario{name: name, planFor: func(int) plan {
			p := plan{mode: modeConcurrent, sendLen: n, recvLen: n}
			if goawaySender() {
				p.gate = goawayGate
			} else {
				p.onPayload = func() { goawayOnce.Do(checkRemoteGoAway) }
			}
			return p
		}}
		s.after = func() error {
			if !goawaySender() && atomic.LoadInt32(&goawayChecked) == 0 {
				return errors.New("goaway: never saw a payload byte, refusal unchecked")
			}
			return nil
		}
		return s
	}
	fail("unknown scenario %q", name)
	return scenario{}
}

// The peer's payload only follows its GoAway(0): by now the recv loop has
// processed it, so a new open must be refused locally.
func checkRemoteGoAway() {
	st, err := session.OpenStream()
	if err == nil {
		// Refused by RST is also acceptable; anything else is a failure.
		st.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, rerr := st.Read(make([]byte, 1))
		if rerr != yamux.ErrConnectionReset {
			fail("goaway: OpenStream after the peer's GoAway succeeded; read gave %v, want RST", rerr)
		}
		logf("goaway: open after remote GoAway was refused by RST")
	} else if err != yamux.ErrRemoteGoAway {
		fail("goaway: OpenStream after remote GoAway: %v, want %v", err, yamux.ErrRemoteGoAway)
	} else {
		logf("goaway: OpenStream refused: %v", err)
	}
	atomic.StoreInt32(&goawayChecked, 1)
}

func pinger(done <-chan struct{}) error {
	count := 0
	var total time.Duration
	for {
		select {
		case <-done:
			if count >= *fPings {
				logf("ping: %d pings answered, mean rtt %v", count, total/time.Duration(count))
				return nil
			}
		default:
		}
		rtt, err := session.Ping()
		if err != nil {
			return fmt.Errorf("ping %d: %v", count, err)
		}
		count++
		total += rtt
	}
}

// ---- stream driver ----

func expectedDigest(h header) []byte {
	g := newPRNG(h.seed, h.index, h.opener, h.dir)
	hs := sha256.New()
	buf := make([]byte, chunk)
	for left := h.length; left > 0; {
		k := uint64(len(buf))
		if left < k {
			k = left
		}
		g.fill(buf[:k])
		hs.Write(buf[:k])
		left -= k
	}
	return hs.Sum(nil)
}

// recvPayload reads h.length bytes, optionally requires EOF right after,
// and compares digests.
func recvPayload(st *yamux.Stream, p *progress, h header, wantEOF bool, onPayload func()) error {
	hs := sha256.New()
	buf := make([]byte, chunk)
	var got uint64
	var first [16]byte
	for got < h.length {
		k := uint64(len(buf))
		if h.length-got < k {
			k = h.length - got
		}
		n, err := st.Read(buf[:k])
		if n > 0 {
			if got == 0 {
				copy(first[:], buf[:n])
				if onPayload != nil {
					onPayload()
				}
			}
			hs.Write(buf[:n])
			got += uint64(n)
			atomic.AddInt64(&p.received, int64(n))
		}
		if err != nil {
			return fmt.Errorf("read payload: %v after %d of %d bytes", err, got, h.length)
		}
	}
	if wantEOF {
		p.state.Store("await-eof")
		n, err := st.Read(buf[:1])
		if n != 0 || err != io.EOF {
			return fmt.Errorf("after the payload: read %d bytes, err %v; want EOF", n, err)
		}
	}
	want := expectedDigest(h)
	if gotD := hs.Sum(nil); !bytes.Equal(gotD, want) {
		return fmt.Errorf("payload digest mismatch: got %s want %s (first bytes % x)",
			hex.EncodeToString(gotD), hex.EncodeToString(want), first[:min(got, 16)])
	}
	return nil
}

func min(a uint64, b int) uint64 {
	if a < uint64(b) {
		return a
	}
	return uint64(b)
}

func sendPayload(st *yamux.Stream, p *progress, h header) error {
	g := newPRNG(h.seed, h.index, h.opener, h.dir)
	buf := make([]byte, chunk)
	for left := h.length; left > 0; {
		k := uint64(len(buf))
		if left < k {
			k = left
		}
		g.fill(buf[:k])
		if off := h.length - left; *fCorrupt >= 0 && h.index == 0 && h.opener == mySide &&
			uint64(*fCorrupt) >= off && uint64(*fCorrupt) < off+k {
			buf[uint64(*fCorrupt)-off] ^= 0x40
		}
		n, err := st.Write(buf[:k])
		atomic.AddInt64(&p.sent, int64(n))
		if err != nil {
			return fmt.Errorf("write payload: %v after %d of %d bytes", err, h.length-left+uint64(n), h.length)
		}
		left -= k
	}
	return nil
}

func readHeader(st *yamux.Stream, want header) (header, error) {
	b := make([]byte, hdrLen)
	if _, err := io.ReadFull(st, b); err != nil {
		return header{}, fmt.Errorf("read header (dir %d): %v", want.dir, err)
	}
	h, err := decodeHeader(b)
	if err != nil {
		return h, err
	}
	if h.dir != want.dir || h.opener != want.opener || h.seed != want.seed ||
		(want.dir == 1 && h.index != want.index) || h.length != want.length {
		return h, fmt.Errorf("unexpected header %+v, want %+v", h, want)
	}
	return h, nil
}

// runStream drives one stream. opened: this side opened it (index known);
// otherwise the index comes from the opener's header.
func runStream(st *yamux.Stream, opened bool, index uint32, pl plan) (err error) {
	peer := 1 - mySide
	opener := peer
	if opened {
		opener = mySide
	}
	name := fmt.Sprintf("%s#%d", sideName(opener), index)
	p := newProgress(name, st.StreamID())
	defer func() {
		if err != nil {
			err = fmt.Errorf("stream %s (yamux id %d): %v", p.name, st.StreamID(), err)
		}
	}()
	// Header the opener sends, and the acceptor's reply header.
	myDir, peerDir := 0, 1
	if !opened {
		myDir, peerDir = 1, 0
	}
	mine := header{dir: myDir, opener: opener, index: index, seed: *fSeed, length: pl.sendLen}
	theirs := header{dir: peerDir, opener: opener, index: index, seed: *fSeed, length: pl.recvLen}
	if opened {
		p.state.Store("send-header")
		if _, err := st.Write(mine.encode()); err != nil {
			return fmt.Errorf("write header: %v", err)
		}
	} else {
		p.state.Store("recv-header")
		h, err := readHeader(st, header{dir: 0, opener: opener, seed: *fSeed, length: pl.recvLen})
		if err != nil {
			return err
		}
		if h.index >= uint32(*fStreams) {
			return fmt.Errorf("stream index %d out of range", h.index)
		}
		mine.index, theirs.index = h.index, h.index
		p.name = fmt.Sprintf("%s#%d", sideName(opener), h.index)
		theirs = h
	}

	sendSide := func() error {
		if !opened {
			if _, err := st.Write(mine.encode()); err != nil {
				return fmt.Errorf("write header: %v", err)
			}
		}
		if pl.gate != nil {
			p.state.Store("gate")
			<-pl.gate
		}
		p.state.Store("send")
		return sendPayload(st, p, mine)
	}
	recvSide := func(wantEOF bool) error {
		if opened {
			if _, err := readHeader(st, theirs); err != nil {
				return err
			}
		}
		p.state.Store("recv")
		return recvPayload(st, p, theirs, wantEOF, pl.onPayload)
	}

	switch pl.mode {
	case modeConcurrent:
		errc := make(chan error, 1)
		go func() { errc <- sendSide() }()
		// Go waits for the C side's FIN; a mirror cannot read after its own
		// Close, so it stops at the byte count and closes first.
		if err := recvSide(!*fMirror); err != nil {
			return err
		}
		if err := <-errc; err != nil {
			return err
		}
	case modeRecvFirst:
		if err := recvSide(true); err != nil {
			return err
		}
		if err := sendSide(); err != nil {
			return err
		}
	case modeSendFirst:
		if err := sendSide(); err != nil {
			return err
		}
	}
	p.state.Store("close")
	if err := st.Close(); err != nil {
		return fmt.Errorf("close: %v", err)
	}
	p.state.Store("done")
	if *fVerbose {
		logf("stream %s id %d done", p.name, st.StreamID())
	}
	return nil
}

func sideName(s int) string {
	if s == sideC {
		return "c"
	}
	return "go"
}

// ---- connection ----

// gracefulConn makes yamux's Session.Close() half-close the TCP connection
// (FIN) instead of closing it: the recv loop then runs until the peer closes,
// so frames the peer still sends (window updates, pongs) are read instead of
// hitting a closed socket and turning the peer's clean EOF into a reset.
type gracefulConn struct {
	*net.TCPConn
	graceful bool
}

func (c *gracefulConn) Close() error {
	if c.graceful {
		return c.TCPConn.CloseWrite()
	}
	return c.TCPConn.Close()
}

func loopbackOnly(addr string) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		fail("bad address %q: %v", addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		fail("address %q is not a loopback IP", addr)
	}
}

func dial() *net.TCPConn {
	if *fListen != "" {
		loopbackOnly(*fListen)
		ln, err := net.Listen("tcp", *fListen)
		if err != nil {
			fail("listen %s: %v", *fListen, err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		logf("listening on %s", ln.Addr())
		if *fPortFile != "" {
			tmp := *fPortFile + ".tmp"
			if err := os.WriteFile(tmp, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
				fail("portfile: %v", err)
			}
			if err := os.Rename(tmp, *fPortFile); err != nil {
				fail("portfile: %v", err)
			}
		}
		c, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		ln.Close()
		return c.(*net.TCPConn)
	}
	loopbackOnly(*fConnect)
	c, err := net.Dial("tcp", *fConnect)
	if err != nil {
		fail("connect %s: %v", *fConnect, err)
	}
	return c.(*net.TCPConn)
}

func main() {
	flag.Parse()
	if *fMirror {
		mySide = sideC
	}
	if (*fRole != "server" && *fRole != "client") || (*fListen == "") == (*fConnect == "") ||
		*fScenario == "" || *fStreams < 1 || *fBytes < 0 {
		fmt.Fprintln(os.Stderr, "usage: yamux_peer -role server|client (-listen ADDR [-portfile F] | -connect ADDR) -scenario NAME [-streams N] [-bytes N] [-seed N]")
		os.Exit(2)
	}
	time.AfterFunc(*fTimeout, func() { fail("timeout after %v", *fTimeout) })
	sc := buildScenario(*fScenario)

	tcp := dial()
	tcp.SetNoDelay(true)
	conn := &gracefulConn{TCPConn: tcp, graceful: !*fMirror}
	cfg := yamux.DefaultConfig()
	cfg.KeepAliveInterval = 1 * time.Second
	cfg.LogOutput = nil
	cfg.Logger = log.New(os.Stderr, "go-yamux: ", log.Lmicroseconds)
	if sc.cfg != nil {
		sc.cfg(cfg)
	}
	var err error
	if *fRole == "server" {
		session, err = yamux.Server(conn, cfg)
	} else {
		session, err = yamux.Client(conn, cfg)
	}
	if err != nil {
		fail("yamux session: %v", err)
	}
	logf("scenario %s role %s mirror=%v streams=%d bytes=%d seed=%d", sc.name, *fRole, *fMirror,
		*fStreams, *fBytes, *fSeed)

	peer := 1 - mySide
	var wg sync.WaitGroup
	errs := make(chan error, 2**fStreams+4)
	var accepted int32
	opensDone := make(chan struct{})
	// Inbound: exactly `streams` from the peer.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < *fStreams; i++ {
			st, err := session.AcceptStream()
			if err != nil {
				errs <- fmt.Errorf("accept stream %d: %v", i, err)
				return
			}
			if n := atomic.AddInt32(&accepted, 1); n == int32(*fStreams) && sc.name == "goaway" && goawaySender() {
				// Every stream of both sides is open: refuse new ones, then
				// let the payload (which the peer uses as its cue) go out.
				<-opensDone
				if err := session.GoAway(); err != nil {
					errs <- fmt.Errorf("GoAway: %v", err)
					return
				}
				logf("goaway: sent GoAway(0) with %d streams open", session.NumStreams())
				close(goawayGate)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := runStream(st, false, 0, sc.planFor(peer)); err != nil {
					errs <- err
				}
			}()
		}
	}()
	// Outbound.
	for i := 0; i < *fStreams; i++ {
		st, err := session.OpenStream()
		if err != nil {
			fail("open stream %d: %v", i, err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := runStream(st, true, uint32(i), sc.planFor(mySide)); err != nil {
				errs <- err
			}
		}(i)
	}
	close(opensDone)
	streamsDone := make(chan struct{})
	extraDone := make(chan error, 1)
	if sc.extra != nil {
		go func() { extraDone <- sc.extra(streamsDone) }()
	} else {
		extraDone <- nil
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	select {
	case err := <-errs:
		fail("%v", err)
	case <-allDone:
	case <-session.CloseChan():
		fail("session closed early")
	}
	close(streamsDone)
	if err := <-extraDone; err != nil {
		fail("%v", err)
	}
	if sc.after != nil {
		if err := sc.after(); err != nil {
			fail("%v", err)
		}
	}
	logf("all %d streams done", 2**fStreams)

	// Every stream must be forgotten; the last FINs may still be in flight.
	for session.NumStreams() != 0 {
		select {
		case <-session.CloseChan():
			// Frames are processed before EOF: the count is final now.
			if n := session.NumStreams(); n != 0 {
				fail("session closed with %d streams left", n)
			}
		case <-time.After(5 * time.Millisecond):
		}
	}
	if *fMirror {
		// Play the C side: wait for the peer to close the session.
		<-session.CloseChan()
		logf("OK: peer closed the session")
		os.Exit(0)
	}
	logf("no stream left; closing the session")
	closed := make(chan struct{})
	go func() { session.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		fail("the peer did not close the connection after our FIN")
	}
	tcp.Close()
	logf("OK scenario %s role %s in %.3fs", sc.name, *fRole, time.Since(start).Seconds())
}
