//! `rdapfleet-worker lookup IP`: one polite lookup with the same client the crawl uses.

use std::io::Write;

use rdapfleet_rdap::{Bootstrap, ClientConfig, LookupOutcome, Rates, RdapClient};

use crate::cli::{HttpArgs, LookupArgs};
use crate::error::{Error, Result};

/// What a command leaves for `main` to say on stderr.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Done {
    /// A note for the operator (stderr), when there is one.
    pub note: Option<String>,
}

/// The bootstrap named by `--bootstrap`, or the shipped one.
pub async fn load_bootstrap(source: Option<&str>) -> Result<Bootstrap> {
    Ok(match source {
        Some(s) => Bootstrap::load(s).await?,
        None => Bootstrap::shipped(),
    })
}

/// The client configuration from the flags.
pub fn client_config(args: &HttpArgs) -> ClientConfig {
    let mut rates = Rates::defaults();
    for r in &args.rates {
        rates.set(r.clone());
    }
    ClientConfig {
        rates,
        timeout: Some(args.timeout),
        connect_timeout: Some(args.connect_timeout),
        max_body_bytes: args.max_body_bytes,
        max_attempts: args.max_attempts,
        max_wait: args.max_wait,
        local_address: args.bind_address,
        ..ClientConfig::default()
    }
}

/// Run one lookup and print its result to `out`.
pub async fn run(args: &LookupArgs, out: &mut dyn Write) -> Result<Done> {
    let bootstrap = load_bootstrap(args.http.bootstrap.as_deref()).await?;
    if bootstrap.base_url_for(args.ip).is_none() {
        return Err(Error::Input(format!(
            "no RDAP service for {} in the bootstrap file (special-purpose or unallocated space?)",
            args.ip
        )));
    }
    let client = RdapClient::new(bootstrap, client_config(&args.http))?;
    let outcome = client.lookup(args.ip).await;
    let write = |out: &mut dyn Write, text: String| -> Result<()> {
        writeln!(out, "{text}").map_err(|e| Error::Unexpected(format!("writing stdout: {e}")))
    };
    if args.json {
        let line = serde_json::to_string(&outcome)
            .map_err(|e| Error::Unexpected(format!("encoding the outcome: {e}")))?;
        write(out, line)?;
    }
    match outcome {
        LookupOutcome::Found { network, .. } => {
            if !args.json {
                let pretty = serde_json::to_string_pretty(&network)
                    .map_err(|e| Error::Unexpected(format!("encoding the network: {e}")))?;
                write(out, pretty)?;
            }
            Ok(Done::default())
        }
        LookupOutcome::NotFound { registry, url, .. } => Ok(Done {
            note: Some(format!(
                "{}: no registered network ({} answered 404 at {url})",
                args.ip,
                registry.map_or_else(|| "the server".to_string(), |r| r.to_string()),
            )),
        }),
        LookupOutcome::Failed {
            reason, retryable, ..
        } => Err(Error::LookupFailed(format!(
            "lookup of {} failed{}: {reason}",
            args.ip,
            if retryable { " (retryable)" } else { "" }
        ))),
    }
}
