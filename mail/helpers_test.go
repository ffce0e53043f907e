package mail_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/mail"
)

// testMessage returns a valid message with both bodies, a non-ASCII
// subject, a reset link in its bodies, long lines and lines that start
// with a dot.
func testMessage() mail.Message {
	return mail.Message{
		From:    "Example App <noreply@app.example>",
		To:      "marcelina.davis@example.com",
		Subject: "Réinitialisez votre mot de passe ✓",
		Text: "Bonjour,\n\nOpen https://app.example/reset-password?token=Z1uX3RbwcIl5fIGJJJCXXisdI to choose a new password.\n" +
			"Ligne très longue " + strings.Repeat("abcdefghij", 12) + "\n" +
			".\n.. lines that start with a dot survive SMTP's dot-stuffing\n",
		HTML: `<p>Bonjour,</p><p><a href="https://app.example/reset-password?token=Z1uX3RbwcIl5fIGJJJCXXisdI">Choose a new password</a> = ok</p>`,
	}
}

// parsed is a message read back with net/mail and mime/multipart.
type parsed struct {
	Header  netmail.Header
	Subject string // decoded
	Text    string // decoded, line breaks as "\n"
	HTML    string // decoded, line breaks as "\n"
}

// parseMessage reads raw as a mail reader would, checking the structure
// the package promises: quoted-printable UTF-8 bodies, multipart/alternative
// when there are two.
func parseMessage(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	var p parsed
	p.Header = msg.Header
	p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "1.0", msg.Header.Get("MIME-Version"))

	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	if mediaType != "multipart/alternative" {
		p.setBody(t, mediaType, params, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return p
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		mediaType, params, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		require.NoError(t, err)
		types = append(types, mediaType)
		p.setBody(t, mediaType, params, part.Header.Get("Content-Transfer-Encoding"), part)
	}
	require.Equal(t, []string{"text/plain", "text/html"}, types, "parts in order of preference")
	return p
}

func (p *parsed) setBody(t *testing.T, mediaType string, params map[string]string, cte string, r io.Reader) {
	t.Helper()
	require.Equal(t, "utf-8", params["charset"])
	require.Equal(t, "quoted-printable", cte)
	b, err := io.ReadAll(quotedprintable.NewReader(r))
	require.NoError(t, err)
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		p.Text = s
	case "text/html":
		p.HTML = s
	default:
		t.Fatalf("unexpected media type %q", mediaType)
	}
}

// newCert returns a self-signed certificate for 127.0.0.1 and localhost,
// as a server's TLS config and the pool a client trusts it with.
func newCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "passreset test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// serverOptions configure a test SMTP server.
type serverOptions struct {
	startTLS          *tls.Config // offer STARTTLS with this config
	implicitTLS       *tls.Config // speak TLS from the first byte
	username          string      // require AUTH PLAIN with these credentials
	password          string
	allowInsecureAuth bool

	rcpt func(to string) error                 // the answer to RCPT TO; nil accepts
	data func(c *smtp.Conn, r io.Reader) error // the answer to DATA; nil records the message
	mail func(c *smtp.Conn, from string) error // the answer to MAIL FROM; nil accepts
}

// received is a message as the test server got it.
type received struct {
	From, To string // envelope
	Data     []byte
	TLS      bool
	User     string // authenticated user
}

// testServer is a real SMTP server (github.com/emersion/go-smtp) on a
// loopback port.
type testServer struct {
	Addr string

	mu       sync.Mutex
	msgs     []received
	sessions int
}

func (s *testServer) Messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *testServer) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

func startServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	ts := &testServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ts.mu.Lock()
		ts.sessions++
		ts.mu.Unlock()
		return &session{ts: ts, opts: &opts, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = opts.startTLS
	srv.AllowInsecureAuth = opts.allowInsecureAuth
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if opts.implicitTLS != nil {
		ln = tls.NewListener(ln, opts.implicitTLS)
	}
	ts.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ts
}

type session struct {
	ts   *testServer
	opts *serverOptions
	conn *smtp.Conn

	user     string
	from, to string
}

func (s *session) AuthMechanisms() []string {
	if s.opts.username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.opts.username || password != s.opts.password {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.opts.username != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	if s.opts.mail != nil {
		if err := s.opts.mail(s.conn, from); err != nil {
			return err
		}
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.opts.rcpt != nil {
		if err := s.opts.rcpt(to); err != nil {
			return err
		}
	}
	s.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	if s.opts.data != nil {
		return s.opts.data(s.conn, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.msgs = append(s.ts.msgs, received{From: s.from, To: s.to, Data: b, TLS: isTLS, User: s.user})
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", "" }
func (s *session) Logout() error { return nil }
