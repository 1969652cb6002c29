//! `indomain keygen`: create a node identity and print the entry peers
//! trust it by; `indomain fingerprint`: print that entry again.

use super::CliResult;
use indomain_net::quic::{CERT_FILE, Identity, KEY_FILE};
use std::path::PathBuf;

/// Arguments of `indomain keygen`.
///
/// Writes DIR/node.crt (the self-signed certificate, public) and
/// DIR/node.key (the private key, readable by its owner only), then prints
/// the line every peer of this node passes as `--peer`:
/// NAME=sha256:<fingerprint of node.crt>.
#[derive(clap::Args)]
pub struct Args {
    /// This node's name, as its peers will know it: ASCII letters, digits,
    /// '-', '_' or '.'.
    #[arg(long)]
    name: String,

    /// Directory to write node.crt and node.key into (created if missing;
    /// node.key is made readable by its owner only).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Replace an identity already in DIR. Peers that trusted the old one
    /// will refuse this node until they get the new fingerprint.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> CliResult {
    let existing = [CERT_FILE, KEY_FILE].map(|f| args.out.join(f));
    if !args.force
        && let Some(found) = existing.iter().find(|p| p.exists())
    {
        return Err(format!(
            "{} already exists; pass --force to replace this node's identity",
            found.display()
        )
        .into());
    }
    let identity = Identity::generate(&args.name)?;
    identity.save(&args.out)?;
    eprintln!(
        "wrote {} and {}; peers trust this node with --peer and this value:",
        existing[0].display(),
        existing[1].display()
    );
    println!("{}", identity.trusted_entry());
    Ok(())
}

/// Arguments of `indomain fingerprint`.
#[derive(clap::Args)]
pub struct FingerprintArgs {
    /// Directory with this node's node.crt and node.key (made by `indomain
    /// keygen`).
    #[arg(long, value_name = "DIR")]
    identity: PathBuf,
}

/// Prints the `NAME=sha256:<hex>` entry of an existing identity, after the
/// same checks a job makes (key matches certificate, key private).
pub fn fingerprint(args: FingerprintArgs) -> CliResult {
    let identity = Identity::load(&args.identity)?;
    println!("{}", identity.trusted_entry());
    Ok(())
}
