//! What can go wrong, how it is printed (on stderr), and the exit code each kind gets.

use micro_runtime::Error;

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// Bad input, refused before anything was sent: exit 2.
    Usage(String),
    /// No such service or endpoint: exit 3.
    NotFound(String),
    /// The registry or every node could not be reached: exit 5.
    Unreachable(String),
    /// The service answered with an error (or the call failed on the way): printed as go-micro's
    /// error JSON; exit 3 for a 404, 4 for a 408, 5 for a connection error, 1 otherwise.
    Remote(Error),
    /// Anything else: exit 1.
    Other(String),
    /// Ctrl-C: exit 130, as a shell reports a command killed by SIGINT; nothing is printed (the
    /// terminal shows `^C`).
    Interrupted,
}

impl Failure {
    /// The process's exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::NotFound(_) => 3,
            Failure::Unreachable(_) => 5,
            Failure::Other(_) => 1,
            Failure::Interrupted => 130,
            Failure::Remote(err) => match err.code {
                404 => 3,
                408 => 4,
                _ if unreachable(err) => 5,
                _ => 1,
            },
        }
    }

    /// Prints the failure on stderr: a go-micro error as its JSON, the rest as one line.
    pub fn report(&self) {
        match self {
            Failure::Remote(err) => eprintln!("{}", err.to_json()),
            Failure::Interrupted => {}
            Failure::Usage(why)
            | Failure::NotFound(why)
            | Failure::Unreachable(why)
            | Failure::Other(why) => eprintln!("micro: {why}"),
        }
    }
}

/// Whether the client could not reach a node at all (as opposed to a node's own error).
fn unreachable(err: &Error) -> bool {
    (err.code == 500 && err.detail.contains("connection error"))
        || (err.code == 503 && err.id == "go.micro.client")
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Remote(err)
    }
}
