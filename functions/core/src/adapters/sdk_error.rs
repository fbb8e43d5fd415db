//! Reading an AWS SDK error, shared by the adapters: each service's `errors` module only says what
//! a code means ([`Classify`]); how the code, the HTTP status and the message are taken out of an
//! [`SdkError`] is written once here.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A service's classes of failure, chosen from the error code and the HTTP status.
pub trait Classify: Sized {
    /// The class of an error with this code and HTTP status; `None` for both means the request
    /// never got an answer (timeout, connection failure, unparseable response).
    fn classify(code: Option<&str>, http_status: Option<u16>) -> Self;

    /// The class of a request the SDK could not even build (a bug or a bad argument): never
    /// retryable.
    fn unsendable() -> Self;
}

/// Implements [`Classify`] for a service's fault enum from its code table, a
/// `fn(Option<&str>, Option<u16>) -> Fault`, with `$unsendable` as the class of a request the SDK
/// could not build: `classify_with!(Fault, classify, Fault::Fatal);`.
macro_rules! classify_with {
    ($fault:ty, $table:path, $unsendable:expr) => {
        impl $crate::adapters::sdk_error::Classify for $fault {
            fn classify(code: Option<&str>, http_status: Option<u16>) -> Self {
                $table(code, http_status)
            }

            fn unsendable() -> Self {
                $unsendable
            }
        }
    };
}
pub(crate) use classify_with;

/// The class of an error the service's code table does not settle, by HTTP status alone:
/// `transient` for no answer at all, a 5xx, or a 429 — except that when the service named an
/// error code (`coded`) the adapter does not know, only a 5xx is transient (the code says the
/// request itself was refused) — else `fatal`.
pub fn by_status<F>(coded: bool, http_status: Option<u16>, transient: F, fatal: F) -> F {
    let retry = match http_status {
        None => !coded,
        Some(s) => s >= 500 || (!coded && s == 429),
    };
    if retry {
        transient
    } else {
        fatal
    }
}

/// Classifies an SDK error as `F` and renders its full message (with every source).
pub fn fault_of<F, E>(err: &SdkError<E, HttpResponse>) -> (F, String)
where
    F: Classify,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let fault = match err {
        SdkError::ServiceError(se) => {
            F::classify(se.err().code(), Some(se.raw().status().as_u16()))
        }
        SdkError::ConstructionFailure(_) => F::unsendable(),
        // Timeouts, dispatch failures and unparseable responses never reached a verdict.
        _ => F::classify(None, None),
    };
    (fault, DisplayErrorContext(err).to_string())
}
