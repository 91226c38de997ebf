use anyhow::Result;
use clap::Subcommand;

use crate::store::{migrate, Store};

#[derive(Subcommand, Debug)]
pub enum DbAction {
    /// Apply pending migrations.
    Migrate,
    /// List applied and pending migrations.
    Status,
}

pub async fn run(store: &Store, action: &DbAction) -> Result<i32> {
    match action {
        DbAction::Migrate => {
            let ran = migrate::migrate(store).await?;
            if ran.is_empty() {
                super::say(format!("{}: schema is up to date", store.backend().name()));
            } else {
                super::say(format!("{}: applied migrations {:?}", store.backend().name(), ran));
            }
        }
        DbAction::Status => {
            for m in migrate::status(store).await? {
                match m.applied_at {
                    Some(at) => println!("{:04} {:<24} applied {at}", m.version, m.name),
                    None => println!("{:04} {:<24} pending", m.version, m.name),
                }
            }
        }
    }
    Ok(0)
}
