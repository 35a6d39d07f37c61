//! The one rule of who may open a terminal on a credential, now: a person the credential is
//! granted to (an executor of a group that grants it) with an approved request that covers them,
//! the device and the current time; or, failing that, in a group that allows unplanned sessions.
//! Both the terminal and the request flow ask this function.

use changeaudit_shared::board::BenignCommands;
use changeaudit_shared::enforcement::Enforcement;
use changeaudit_shared::script::Script;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::{DbError, flag};

/// What a session may run under.
#[derive(Debug, Clone)]
pub enum Permit {
    /// An approved request for a change whose window is open.
    Planned {
        request_id: i64,
        change_id: String,
        script: Script,
        /// The script as written, kept with the session.
        script_text: String,
        due_at: Timestamp,
        benign: BenignCommands,
        /// How the session is held to the script: the change's group says.
        enforcement: Enforcement,
        /// The change's group: its approvers hear of lines held in the session.
        group_id: i64,
    },
    /// No change: the group allows sessions outside every change (recorded, without a script).
    Unplanned {
        benign: BenignCommands,
        /// The group that allows it: its approvers hear of lines held in it.
        group_id: i64,
    },
}

impl Permit {
    pub fn change_id(&self) -> Option<&str> {
        match self {
            Permit::Planned { change_id, .. } => Some(change_id),
            Permit::Unplanned { .. } => None,
        }
    }

    /// How the session is held to its script: an unplanned session has none to be held to.
    pub fn enforcement(&self) -> Enforcement {
        match self {
            Permit::Planned { enforcement, .. } => *enforcement,
            Permit::Unplanned { .. } => Enforcement::Off,
        }
    }

    /// The group the session runs through: the change's, or the one that allowed it unplanned.
    pub fn group_id(&self) -> i64 {
        match self {
            Permit::Planned { group_id, .. } | Permit::Unplanned { group_id, .. } => *group_id,
        }
    }

    /// The approved request the session runs under, if planned.
    pub fn request_id(&self) -> Option<i64> {
        match self {
            Permit::Planned { request_id, .. } => Some(*request_id),
            Permit::Unplanned { .. } => None,
        }
    }

    /// What the session is held to: its change, script and benign commands.
    pub fn into_plan(self) -> (Option<String>, Script, BenignCommands) {
        match self {
            Permit::Planned {
                change_id,
                script,
                benign,
                ..
            } => (Some(change_id), script, benign),
            Permit::Unplanned { benign, .. } => (
                None,
                Script {
                    commands: Vec::new(),
                },
                benign,
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("There is no credential {0}.")]
    NoSuchCredential(i64),
    #[error("No access group of yours grants this credential.")]
    NotGranted,
    #[error(
        "No approved request covers you, this device and the present time, and your group does \
         not allow sessions outside a change."
    )]
    NeedsApproval,
}

/// Judges whether `user_id` may open a session on `credential_id` at `now`.
pub async fn judge(
    connection: &mut AnyConnection,
    user_id: i64,
    credential_id: i64,
    now: Timestamp,
) -> Result<Result<Permit, Refusal>, DbError> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM credentials WHERE id = $1")
        .bind(credential_id)
        .fetch_optional(&mut *connection)
        .await?;
    if exists.is_none() {
        return Ok(Err(Refusal::NoSuchCredential(credential_id)));
    }
    // The groups through which this person may use this credential.
    let groups = sqlx::query(
        "SELECT g.id, g.benign_commands,
                CAST(CASE WHEN g.unplanned_sessions_allowed THEN 1 ELSE 0 END AS BIGINT) AS unplanned
         FROM access_groups g
         JOIN group_members m ON m.group_id = g.id AND m.user_id = $1 AND m.executor
         JOIN group_credentials gc ON gc.group_id = g.id AND gc.credential_id = $2
         ORDER BY g.id",
    )
    .bind(user_id)
    .bind(credential_id)
    .fetch_all(&mut *connection)
    .await?;
    if groups.is_empty() {
        return Ok(Err(Refusal::NotGranted));
    }
    let benign_of = |text: &str| -> Result<BenignCommands, DbError> {
        let programs: Vec<String> = serde_json::from_str(text)
            .map_err(|error| DbError::Other(sqlx::Error::Decode(Box::new(error))))?;
        Ok(BenignCommands::new(programs))
    };

    let approved = sqlx::query(
        "SELECT r.id, c.id AS change_id, c.script, c.due_at, g.benign_commands, g.enforcement,
                c.enforcement AS change_enforcement, g.id AS group_id
         FROM requests r
         JOIN changes c ON c.id = r.change_id
         JOIN access_groups g ON g.id = c.access_group_id
         JOIN group_members m ON m.group_id = g.id AND m.user_id = r.requester_id AND m.executor
         JOIN group_credentials gc ON gc.group_id = g.id AND gc.credential_id = r.credential_id
         JOIN credentials cr ON cr.id = r.credential_id
         JOIN change_devices cd ON cd.change_id = c.id AND cd.device_id = cr.device_id
         WHERE r.requester_id = $1 AND r.credential_id = $2 AND r.status = 'approved'
           AND c.status = 'approved' AND c.start_at <= $3 AND $3 < c.due_at
         ORDER BY c.due_at, r.id
         LIMIT 1",
    )
    .bind(user_id)
    .bind(credential_id)
    .bind(now.as_millis())
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(row) = approved {
        let script_text: String = row.try_get("script")?;
        // Changes are checked when saved, so their scripts parse; an empty one stays empty.
        let script = Script::parse(&script_text).unwrap_or(Script {
            commands: Vec::new(),
        });
        let benign: String = row.try_get("benign_commands")?;
        let group: String = row.try_get("enforcement")?;
        let change: Option<String> = row.try_get("change_enforcement")?;
        let enforcement = Enforcement::of_change(
            Enforcement::stored(&group),
            change.as_deref().map(Enforcement::stored),
        );
        return Ok(Ok(Permit::Planned {
            request_id: row.try_get("id")?,
            change_id: row.try_get("change_id")?,
            script,
            script_text,
            due_at: Timestamp::from_millis(row.try_get("due_at")?),
            benign: benign_of(&benign)?,
            enforcement,
            group_id: row.try_get("group_id")?,
        }));
    }
    for row in &groups {
        if flag(row, "unplanned")? {
            let benign: String = row.try_get("benign_commands")?;
            return Ok(Ok(Permit::Unplanned {
                benign: benign_of(&benign)?,
                group_id: row.try_get("id")?,
            }));
        }
    }
    Ok(Err(Refusal::NeedsApproval))
}
