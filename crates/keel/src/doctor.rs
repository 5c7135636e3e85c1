//! `keel doctor`: reads everything the store holds and names each row that does not decode.
//!
//! Such a row is data loss: the server keeps serving everything else, answers DATA_LOSS
//! (REST: 500) for the run it belongs to and leaves it out of start-up, so without this
//! command the damage shows only when someone opens that run. It may run beside a server.

use anyhow::{Result, bail};

use crate::server::{StoreArgs, open_store};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn run(args: Args) -> Result<()> {
    if args.store.db_url.is_none() && !args.store.sqlite_path().exists() {
        bail!(
            "no Keel database in {} (give --data-dir or --db)",
            args.store.data_dir.display()
        );
    }
    let (store, place) = open_store(&args.store).await?;
    let broken = store.undecodable_rows().await?;
    if broken.is_empty() {
        println!("{place}: every stored row decodes");
        return Ok(());
    }
    for row in &broken {
        println!("{row}");
    }
    bail!(
        "{} stored row{} in {place} do not decode",
        broken.len(),
        if broken.len() == 1 { "" } else { "s" }
    )
}
