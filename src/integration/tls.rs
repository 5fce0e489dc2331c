//! HTTPS backends: rustls driven by hand over monoio's owned-buffer TCP.
//!
//! The trust settings are built once per config load ([`BackendTls`]) into `Arc<ClientConfig>`s
//! that every core reads; no core writes to them. Each worker then keeps its TLS connections in
//! its own [`super::upstream::Pool`] as [`TlsConn`]s: a TCP stream, the rustls session and two
//! reused buffers. rustls does no I/O itself: we feed it the bytes read from the socket
//! (`read_tls` + `process_new_packets`) and write out what it queues (`write_tls`), so the
//! same code runs on io_uring and on the legacy epoll driver.
//!
//! Why not `monoio-rustls`: it pins an old rustls, and the exchange needs only two operations
//! (send a whole request, read some plaintext), which are short to write against rustls.
//!
//! AWS behaviour reproduced (aws-behavior §6.1, §6.2): the backend's certificate is verified
//! against public CAs unless the integration sets `tlsConfig.insecureSkipVerification`
//! (DG: set-up-http-integrations, API: TlsConfig); a certificate that does not verify fails the
//! call with 500 ("Execution failed due to configuration error: General SSLEngine problem").

use std::fmt;
use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::upstream::{BackendConn, UpstreamError, read_more};

/// Bytes read from the socket per read while a TLS session is open (one full TLS record is
/// 16 KiB of plaintext plus at most 256 bytes of overhead, RFC 8446 §5.2).
const TLS_READ_CHUNK: usize = 16 * 1024 + 256;
/// Flights a handshake may take before we give up: TLS 1.3 needs 2 from the client side and
/// TLS 1.2 needs 3; a HelloRetryRequest and a few post-handshake messages fit well within.
const MAX_HANDSHAKE_ROUNDS: usize = 32;
/// `write_tls` calls per flush; each drains at least one queued record, and what one request
/// queues is bounded by rustls' 64 KiB send buffer limit.
const MAX_WRITE_TLS_CALLS: usize = 1024;
/// Socket reads in a row that may yield no plaintext (records that are all handshake,
/// session tickets or key updates) before the backend is considered broken.
const MAX_EMPTY_READS: usize = 256;
/// The largest `server.backend_ca_file` read (a bundle of every public CA is about 250 KB).
pub const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// The one application protocol offered: the client speaks HTTP/1.1 only (RFC 7301).
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Distinguishes the client configs of successive loads, so a pooled connection is only reused
/// under the trust settings it was verified with.
static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

/// One TLS client setting (trust roots or no verification), shared read-only by all cores.
#[derive(Clone)]
pub struct TlsClient {
    /// The rustls config every connection of this setting starts from.
    pub config: Arc<ClientConfig>,
    /// Unique per built config; part of the pool key.
    pub id: u64,
    /// Whether certificates are verified (for messages only).
    pub verifies: bool,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("id", &self.id)
            .field("verifies", &self.verifies)
            .finish()
    }
}

impl TlsClient {
    fn new(config: ClientConfig, verifies: bool) -> Self {
        TlsClient {
            config: Arc::new(config),
            id: NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed),
            verifies,
        }
    }
}

/// The two TLS client settings of one config load: verifying against the Mozilla roots (plus
/// `server.backend_ca_file`), and `insecureSkipVerification`.
#[derive(Debug, Clone)]
pub struct BackendTls {
    /// Verifies the backend's certificate chain and host name.
    pub verified: TlsClient,
    /// Accepts any issuer (still checks dates, the host name and the handshake signatures).
    pub insecure: TlsClient,
}

impl BackendTls {
    /// Builds both settings; `extra_ca_pem` is the content of `server.backend_ca_file`.
    /// Errors say what is wrong with the PEM.
    pub fn build(extra_ca_pem: Option<&[u8]>) -> Result<BackendTls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = extra_ca_pem {
            let mut added = 0usize;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("invalid PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("a certificate cannot be used as a CA: {e}"))?;
                added += 1;
            }
            if added == 0 {
                return Err("the file holds no PEM `CERTIFICATE` block".into());
            }
        }
        let verified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let insecure = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyIssuer {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth();
        Ok(BackendTls {
            verified: TlsClient::new(with_defaults(verified), true),
            insecure: TlsClient::new(with_defaults(insecure), false),
        })
    }

    /// Reads `server.backend_ca_file` (bounded) and builds both settings.
    pub fn from_ca_file(path: Option<&Path>) -> Result<BackendTls, String> {
        let Some(path) = path else {
            return BackendTls::build(None);
        };
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
        if meta.len() > MAX_CA_FILE_BYTES {
            return Err(format!(
                "the file is {} bytes, over the {MAX_CA_FILE_BYTES}-byte limit",
                meta.len()
            ));
        }
        let pem = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
        BackendTls::build(Some(&pem))
    }

    /// The setting for an integration, by its `tlsConfig.insecureSkipVerification`.
    pub fn for_integration(&self, insecure_skip_verification: bool) -> TlsClient {
        if insecure_skip_verification {
            self.insecure.clone()
        } else {
            self.verified.clone()
        }
    }
}

/// ALPN and resumption settings common to both configs.
fn with_defaults(mut c: ClientConfig) -> ClientConfig {
    c.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    // Each core gets its own session cache (see `per_core_config`); the shared one is unused.
    c.resumption = rustls::client::Resumption::disabled();
    c
}

/// A copy of `shared` for one core, with a session cache of its own, so that resuming a session
/// never touches another core's memory. Built once per core and setting, not per request.
pub fn per_core_config(shared: &ClientConfig) -> Arc<ClientConfig> {
    /// Sessions remembered per core and setting (rustls' default is 256 for the process).
    const SESSIONS_PER_CORE: usize = 64;
    let mut c = shared.clone();
    c.resumption = rustls::client::Resumption::in_memory_sessions(SESSIONS_PER_CORE);
    Arc::new(c)
}

/// `tlsConfig.insecureSkipVerification`: the issuer need not be a trusted CA (self-signed and
/// private-CA certificates pass), but, as AWS documents, "API Gateway still performs basic
/// certificate validation, which includes checking the certificate's expiration date, hostname,
/// and presence of a root certificate authority" (API: TlsConfig). So the chain the backend
/// presents stands in for the trust roots: the leaf must be signed by one of the presented
/// certificates (itself, when self-signed), in date, and valid for the host name.
#[derive(Debug)]
struct AcceptAnyIssuer {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyIssuer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        let mut presented = RootCertStore::empty();
        // Certificates that cannot be anchors are left out; the chain check then says why.
        let _ = presented.add(end_entity.clone());
        for c in intermediates {
            let _ = presented.add(c.clone());
        }
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &presented,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        verify_server_name(&cert, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The server name to verify and send as SNI: the URI host. IP literals (IPv6 in brackets)
/// become IP names, for which rustls sends no SNI (RFC 6066 §3 forbids literal addresses).
pub fn server_name(host: &str) -> Result<ServerName<'static>, UpstreamError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|_| UpstreamError::Resolve)
}

/// Maps a handshake failure. A certificate that does not verify is a configuration error
/// (AWS: 500, "General SSLEngine problem"); anything else (an alert, bytes that are not TLS)
/// is a broken backend, as a plain connection sending garbage is.
fn handshake_error(e: rustls::Error) -> UpstreamError {
    match e {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            UpstreamError::Connect(io::Error::new(io::ErrorKind::InvalidData, e))
        }
        _ => UpstreamError::Broken("TLS handshake failed"),
    }
}

/// One TLS connection to a backend.
#[derive(Debug)]
pub struct TlsConn {
    tcp: TcpStream,
    tls: ClientConnection,
    /// TLS bytes waiting to be written (reused).
    out: Vec<u8>,
    /// TLS bytes read from the socket (reused).
    inb: Vec<u8>,
}

impl TlsConn {
    /// Runs the handshake on a connected stream. The caller bounds the time (the integration
    /// timeout covers connect and handshake).
    pub async fn handshake(
        tcp: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<TlsConn, UpstreamError> {
        let tls = ClientConnection::new(config, name).map_err(handshake_error)?;
        let mut c = TlsConn {
            tcp,
            tls,
            out: Vec::new(),
            inb: Vec::with_capacity(TLS_READ_CHUNK),
        };
        for _ in 0..MAX_HANDSHAKE_ROUNDS {
            if c.tls.wants_write() {
                c.flush().await.map_err(|_| {
                    UpstreamError::Broken("connection lost during the TLS handshake")
                })?;
                continue;
            }
            if !c.tls.is_handshaking() {
                return Ok(c);
            }
            match c.read_records().await {
                Ok(0) => {
                    return Err(UpstreamError::Broken(
                        "connection closed during the TLS handshake",
                    ));
                }
                Ok(_) => {}
                Err(ReadError::Tls(e)) => {
                    // Tell the backend why (the alert rustls queued), best effort.
                    let _ = c.flush().await;
                    return Err(handshake_error(e));
                }
                Err(ReadError::Io(_)) => {
                    return Err(UpstreamError::Broken(
                        "connection lost during the TLS handshake",
                    ));
                }
            }
        }
        Err(UpstreamError::Broken("TLS handshake did not finish"))
    }

    /// Writes every queued TLS record to the socket.
    async fn flush(&mut self) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        for _ in 0..MAX_WRITE_TLS_CALLS {
            if !self.tls.wants_write() {
                break;
            }
            self.tls.write_tls(&mut out)?;
        }
        if out.is_empty() {
            self.out = out;
            return Ok(());
        }
        let (res, out) = self.tcp.write_all(out).await;
        self.out = out;
        res.map(|_| ())
    }

    /// One socket read, fed whole to rustls. Returns the TLS bytes read (0 = end of stream).
    async fn read_records(&mut self) -> Result<usize, ReadError> {
        let mut inb = std::mem::take(&mut self.inb);
        inb.clear();
        let (res, inb) = read_more(&mut self.tcp, inb, TLS_READ_CHUNK).await;
        self.inb = inb;
        let n = res.map_err(ReadError::Io)?;
        if n == 0 {
            // Lets rustls tell a clean close (close_notify seen) from a truncation.
            let _ = self.tls.read_tls(&mut io::empty());
            return Ok(0);
        }
        let mut rest = &self.inb[..];
        // Each pass consumes at least one byte (read_tls returns 0 only on an empty reader).
        for _ in 0..=rest.len() {
            if rest.is_empty() {
                break;
            }
            if self.tls.read_tls(&mut rest).map_err(ReadError::Io)? == 0 {
                break;
            }
            self.tls.process_new_packets().map_err(ReadError::Tls)?;
        }
        Ok(n)
    }

    /// Moves the decrypted bytes rustls holds onto `buf`; returns how many. `Ok(None)`: the
    /// backend closed the session cleanly and nothing is left.
    fn drain_plaintext(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
        let mut moved = 0;
        // Bounded by the chunks rustls holds, each consumed whole.
        loop {
            let mut reader = self.tls.reader();
            match reader.fill_buf() {
                Ok([]) => return Ok(if moved == 0 { None } else { Some(moved) }),
                Ok(chunk) => {
                    let n = chunk.len();
                    buf.extend_from_slice(chunk);
                    reader.consume(n);
                    moved += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Some(moved)),
                // Report the bytes now; the error comes back on the next call.
                Err(_) if moved > 0 => return Ok(Some(moved)),
                Err(e) => return Err(e),
            }
        }
    }
}

/// Why reading records failed.
enum ReadError {
    Io(io::Error),
    Tls(rustls::Error),
}

impl BackendConn for TlsConn {
    async fn send(&mut self, request: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let mut off = 0;
        // Each pass hands rustls at least one byte (up to its 64 KiB send buffer) and writes
        // the records out, so the loop ends within len + 1 passes.
        for _ in 0..=request.len() {
            if off == request.len() {
                break;
            }
            let n = match self.tls.writer().write(&request[off..]) {
                Ok(n) => n,
                Err(e) => return (Err(e), request),
            };
            off += n;
            if let Err(e) = self.flush().await {
                return (Err(e), request);
            }
            if n == 0 {
                return (
                    Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "TLS send buffer stuck",
                    )),
                    request,
                );
            }
        }
        (Ok(()), request)
    }

    async fn recv(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        for _ in 0..MAX_EMPTY_READS {
            match self.drain_plaintext(&mut buf) {
                Ok(Some(0)) => {}
                Ok(Some(n)) => return (Ok(n), buf),
                Ok(None) => return (Ok(0), buf),
                Err(e) => return (Err(e), buf),
            }
            if self.tls.wants_write() {
                // Key updates and alerts rustls answers by itself.
                if let Err(e) = self.flush().await {
                    return (Err(e), buf);
                }
            }
            match self.read_records().await {
                Ok(_) => {}
                Err(ReadError::Io(e)) => return (Err(e), buf),
                Err(ReadError::Tls(e)) => {
                    let _ = self.flush().await;
                    return (Err(io::Error::new(io::ErrorKind::InvalidData, e)), buf);
                }
            }
        }
        (
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no application data from the TLS backend",
            )),
            buf,
        )
    }
}

/// Where a TLS connection goes, and under which setting: the pool key of idle TLS connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsKey {
    /// The backend address.
    pub addr: SocketAddr,
    /// The name verified and sent as SNI.
    pub name: ServerName<'static>,
    /// [`TlsClient::id`].
    pub client: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_mozilla_roots_and_an_extra_ca() {
        let t = BackendTls::build(None).unwrap();
        assert!(t.verified.verifies && !t.insecure.verifies);
        assert_ne!(t.verified.id, t.insecure.id);
        assert_eq!(t.verified.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        let pem = ca.cert.pem();
        let t2 = BackendTls::build(Some(pem.as_bytes())).unwrap();
        assert_ne!(t2.verified.id, t.verified.id);
        assert!(t2.for_integration(true).id == t2.insecure.id);
        assert!(t2.for_integration(false).id == t2.verified.id);
    }

    #[test]
    fn rejects_bad_ca_files() {
        assert_eq!(
            BackendTls::build(Some(b"not a pem")).unwrap_err(),
            "the file holds no PEM `CERTIFICATE` block"
        );
        let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(BackendTls::build(Some(broken)).is_err());
        let missing = BackendTls::from_ca_file(Some(Path::new("/nonexistent/ca.pem")));
        assert!(missing.unwrap_err().starts_with("cannot read the file"));
    }

    #[test]
    fn server_names_for_sni() {
        assert!(matches!(
            server_name("api.example.com").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(server_name("bad name").is_err());
    }

    fn self_signed(name: &str, expired: bool) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        if expired {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        p.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn skipping_verification_still_checks_dates_and_the_name() {
        let v = AcceptAnyIssuer {
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        };
        let name = server_name("backend.test").unwrap();
        let check = |cert: &CertificateDer<'_>, name: &ServerName<'_>| {
            v.verify_server_cert(cert, &[], name, &[], UnixTime::now())
        };
        assert!(check(&self_signed("backend.test", false), &name).is_ok());
        assert!(matches!(
            check(&self_signed("backend.test", true), &name),
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ExpiredContext { .. }
            ))
        ));
        assert!(matches!(
            check(&self_signed("other.test", false), &name),
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. }
            ))
        ));
        assert!(check(&CertificateDer::from(vec![1, 2, 3]), &name).is_err());
    }

    #[test]
    fn certificate_errors_are_configuration_errors() {
        let e = handshake_error(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(matches!(e, UpstreamError::Connect(_)));
        let e = handshake_error(rustls::Error::General("x".into()));
        assert!(matches!(e, UpstreamError::Broken("TLS handshake failed")));
    }
}
