//! Everything the servers of this test binary log, kept to be searched (for secrets, say).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

fn buffer() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        // Every level of every target goes to the buffer, in production's line format: more
        // than production writes, so a secret that could reach a log line is seen here. Only
        // warnings and errors go to the test's output, which the harness shows on failure.
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(Capture(logs.clone()))
                    .with_filter(LevelFilter::TRACE),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_test_writer()
                    .with_filter(LevelFilter::WARN),
            );
        tracing::subscriber::set_global_default(subscriber).expect("one test subscriber");
        logs
    })
    .clone()
}

/// Starts capturing (once for the whole binary).
pub fn capture() {
    buffer();
}

/// All log text so far, from every test of the binary.
pub fn text() -> String {
    String::from_utf8_lossy(&buffer().lock().expect("log buffer")).into_owned()
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}
