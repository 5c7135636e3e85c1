//! The numbered-migration runner both backends share.
//!
//! Each backend lists its schema as [`Migration`]s in its own SQL dialect. A database
//! records the versions it has applied in a `schema_version` table; opening it applies the
//! missing ones in order, inside one transaction, and refuses a database that a newer Keel
//! has already migrated past what this one knows.

use crate::{Error, Result};

/// One schema step: `version` numbers start at 1 and increase by one.
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

/// The table each backend keeps its applied versions in.
pub const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)";

/// The query for the version a database is at (0 when new).
pub const CURRENT_VERSION: &str =
    "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_version";

/// The migrations a database at schema version `current` still needs, in order.
pub fn pending(current: i64, migrations: &[Migration]) -> Result<&[Migration]> {
    debug_assert!(
        migrations
            .iter()
            .enumerate()
            .all(|(i, m)| m.version == i as i64 + 1),
        "migrations must be numbered 1, 2, 3, ..."
    );
    let newest = migrations.last().map_or(0, |m| m.version);
    if current > newest {
        return Err(Error::Unavailable(format!(
            "the database has schema version {current}, newer than this keel knows ({newest}); upgrade keel"
        )));
    }
    let applied = usize::try_from(current).unwrap_or(0);
    Ok(&migrations[applied..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &[Migration] = &[
        Migration {
            version: 1,
            sql: "a",
        },
        Migration {
            version: 2,
            sql: "b",
        },
        Migration {
            version: 3,
            sql: "c",
        },
    ];

    #[test]
    fn a_new_database_gets_every_migration_in_order() {
        let sql: Vec<&str> = pending(0, THREE).unwrap().iter().map(|m| m.sql).collect();
        assert_eq!(sql, ["a", "b", "c"]);
    }

    #[test]
    fn a_partly_migrated_database_gets_the_rest() {
        let versions: Vec<i64> = pending(2, THREE)
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, [3]);
        assert!(pending(3, THREE).unwrap().is_empty());
    }

    #[test]
    fn a_database_from_a_newer_keel_is_refused() {
        let error = pending(4, THREE).err().expect("version 4 is unknown");
        assert!(
            error.to_string().contains("newer than this keel knows (3)"),
            "{error}"
        );
    }
}
