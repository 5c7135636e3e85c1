//! `keel flow`: declarative flows. Apply documents (a file or a directory of them; each
//! change a new revision), check them, list and read flows and their revisions, and run
//! one with `--input name=value` (checked by the server against the flow's typed inputs).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::cli::client::Client;
use crate::cli::table::{Table, short_time, text};
use crate::cli::{Common, Format, NamespaceArg, Query, emit, percent_encode, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    namespace: NamespaceArg,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(clap::Subcommand, Debug)]
enum Verb {
    /// Save flow documents: a file, or every .yaml/.yml file of a directory.
    Apply { path: PathBuf },
    /// Check a flow document without saving it; exits 1 when it has problems.
    Validate { file: PathBuf },
    /// List the namespace's flows.
    List,
    /// Show a flow's document (its latest revision, or --revision).
    Get {
        /// The flow: ID (in --namespace), NAMESPACE/ID, or NAMESPACE.ID.
        flow: String,
        #[arg(long)]
        revision: Option<i64>,
    },
    /// List a flow's revisions.
    Revisions {
        /// The flow: ID (in --namespace), NAMESPACE/ID, or NAMESPACE.ID.
        flow: String,
    },
    /// Show what changed between two revisions of a flow (a unified diff).
    Diff {
        /// The flow: ID (in --namespace), NAMESPACE/ID, or NAMESPACE.ID.
        flow: String,
        /// The older revision [default: the one before --to].
        #[arg(long)]
        from: Option<i64>,
        /// The newer revision [default: the latest].
        #[arg(long)]
        to: Option<i64>,
    },
    /// Start an execution of a flow.
    Run {
        /// The flow: ID (in --namespace), NAMESPACE/ID, or NAMESPACE.ID.
        flow: String,
        /// An input, as NAME=VALUE (repeat for each); the value is read into the input's
        /// type (JSON for JSON and ARRAY inputs).
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// The execution's workflow id [default: generated].
        #[arg(long)]
        workflow_id: Option<String>,
        /// Run this revision [default: the latest].
        #[arg(long)]
        revision: Option<i64>,
        /// Wait for the execution to end and print its outputs; exits 1 unless it
        /// completed.
        #[arg(long)]
        wait: bool,
    },
    /// Take the runs a Schedule trigger would have started in a past range (a backfill).
    Backfill {
        /// The flow: ID (in --namespace), NAMESPACE/ID, or NAMESPACE.ID.
        flow: String,
        /// The range's start, RFC 3339 (included).
        #[arg(long)]
        from: String,
        /// The range's end, RFC 3339 (included).
        #[arg(long)]
        to: String,
        /// The Schedule trigger's id; needed when the flow has more than one.
        #[arg(long)]
        trigger: Option<String>,
        /// The overlap policy for these runs (skip, buffer_one, buffer_all, cancel_other,
        /// terminate_other, allow_all) [default: the trigger's].
        #[arg(long)]
        overlap: Option<String>,
    },
    /// Delete a flow (its revisions stay; running executions go on).
    Delete {
        /// The flow: ID (in --namespace), NAMESPACE/ID, or NAMESPACE.ID.
        flow: String,
    },
}

/// `NAME=VALUE` pairs as an object of text values, checked before any request.
pub fn input_pairs(pairs: &[String]) -> Result<Map<String, Value>> {
    let mut inputs = Map::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--input {pair}: expected NAME=VALUE");
        };
        if name.is_empty() {
            bail!("--input {pair}: the name is empty");
        }
        if inputs.insert(name.to_owned(), json!(value)).is_some() {
            bail!("--input {name} is given twice");
        }
    }
    Ok(inputs)
}

/// The REST path of the flow a `flow` argument names (see [`resolve`]).
async fn flow_path(client: &Client, namespace: &str, flow: &str) -> Result<String> {
    let (namespace, id) = resolve(client, namespace, flow).await?;
    Ok(rest_path(&namespace, &id))
}

/// The namespace and id of the flow a `flow` argument names: `NAMESPACE/ID`, an id in
/// `namespace`, or `NAMESPACE.ID`. Namespaces and flow ids may both hold dots, so a dotted
/// name is looked up: each way of reading it that names a saved flow is a candidate, and
/// exactly one must be. When none is, the name is read as an id in `namespace`, so the
/// server's "no flow" answers the command.
async fn resolve(client: &Client, namespace: &str, flow: &str) -> Result<(String, String)> {
    if let Some((namespace, id)) = flow.split_once('/') {
        return Ok((namespace.to_owned(), id.to_owned()));
    }
    let mut found = Vec::new();
    for (namespace, id) in readings(namespace, flow) {
        if client
            .get_json_if_found(&rest_path(namespace, id))
            .await?
            .is_some()
        {
            found.push((namespace.to_owned(), id.to_owned()));
        }
    }
    match found.len() {
        0 => Ok((namespace.to_owned(), flow.to_owned())),
        1 => Ok(found.remove(0)),
        _ => {
            let names: Vec<String> = found
                .iter()
                .map(|(namespace, id)| format!("{namespace}/{id}"))
                .collect();
            bail!(
                "{flow} names several flows ({}); say which as NAMESPACE/ID",
                names.join(", ")
            )
        }
    }
}

/// The (namespace, id) pairs a flow argument without a slash can mean: an id in the
/// default namespace, then `NAMESPACE.ID` split at each dot.
fn readings<'a>(namespace: &'a str, flow: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut readings = vec![(namespace, flow)];
    for (dot, _) in flow.match_indices('.') {
        let (prefix, id) = (&flow[..dot], &flow[dot + 1..]);
        if !prefix.is_empty() && !id.is_empty() && (prefix, id) != (namespace, flow) {
            readings.push((prefix, id));
        }
    }
    readings
}

fn rest_path(namespace: &str, id: &str) -> String {
    format!(
        "/api/v1/flows/{}/{}",
        percent_encode(namespace),
        percent_encode(id)
    )
}

/// The flow documents `path` names: itself, or a directory's YAML files in name order.
fn documents(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read the directory {}", path.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|file| {
            file.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{} holds no .yaml or .yml files", path.display());
    }
    Ok(files)
}

fn read(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

pub async fn run(args: Args) -> Result<()> {
    let session = args.common.session()?;
    let client = &session.client;
    let namespace = args.namespace.namespace.as_str();
    let answer = match args.verb {
        Verb::Apply { path } => {
            let mut saved = Vec::new();
            for file in documents(&path)? {
                let source = read(&file)?;
                let answer = client
                    .post_json("/api/v1/flows", &json!({"source": source}))
                    .await
                    .with_context(|| file.display().to_string())?;
                if session.format == Format::Table {
                    let what = if answer["created"] == true {
                        "saved"
                    } else {
                        "unchanged"
                    };
                    emit(&format!(
                        "{}/{}: revision {} ({what})\n",
                        text(&answer["namespace"]),
                        text(&answer["id"]),
                        answer["revision"]
                    ))?;
                }
                saved.push(answer);
            }
            if session.format == Format::Table {
                return Ok(());
            }
            json!({"flows": saved})
        }
        Verb::Validate { file } => {
            let source = read(&file)?;
            let answer = client
                .post_json("/api/v1/flows/validate", &json!({"source": source}))
                .await?;
            if session.format == Format::Json {
                print_json(&answer)?;
            } else {
                for problem in answer["problems"].as_array().cloned().unwrap_or_default() {
                    let at = match (problem["line"].as_u64(), problem["column"].as_u64()) {
                        (Some(line), Some(column)) => format!("{}:{line}:{column}", file.display()),
                        _ => file.display().to_string(),
                    };
                    eprintln!("{at}: {}", text(&problem["message"]));
                }
                if answer["valid"] == true {
                    emit(&format!("{}: valid\n", file.display()))?;
                }
            }
            if answer["valid"] != true {
                std::process::exit(1);
            }
            return Ok(());
        }
        Verb::List => {
            let mut query = Query::new();
            query.push("namespace", namespace);
            let answer = client.get_json(&format!("/api/v1/flows{query}")).await?;
            if session.format == Format::Table {
                return print_list(&answer);
            }
            answer
        }
        Verb::Get { flow, revision } => {
            let mut query = Query::new();
            if let Some(revision) = revision {
                query.push("revision", revision.to_string());
            }
            let answer = client
                .get_json(&format!(
                    "{}{query}",
                    flow_path(client, namespace, &flow).await?
                ))
                .await?;
            if session.format == Format::Table {
                return emit(&text(&answer["source"]));
            }
            answer
        }
        Verb::Revisions { flow } => {
            let answer = client
                .get_json(&format!(
                    "{}/revisions",
                    flow_path(client, namespace, &flow).await?
                ))
                .await?;
            if session.format == Format::Table {
                let mut table = Table::new(&["REVISION", "SAVED", "LINES"]);
                for revision in answer["revisions"].as_array().cloned().unwrap_or_default() {
                    table.row(vec![
                        revision["revision"].to_string(),
                        short_time(&revision["created"]),
                        text(&revision["source"]).lines().count().to_string(),
                    ]);
                }
                return emit(&table.render());
            }
            answer
        }
        Verb::Diff { flow, from, to } => {
            let mut query = Query::new();
            if let Some(from) = from {
                query.push("from", from.to_string());
            }
            if let Some(to) = to {
                query.push("to", to.to_string());
            }
            let answer = client
                .get_json(&format!(
                    "{}/diff{query}",
                    flow_path(client, namespace, &flow).await?
                ))
                .await?;
            if session.format == Format::Table {
                let diff = text(&answer["diff"]);
                if diff.is_empty() {
                    return emit(&format!(
                        "revisions {} and {} are the same\n",
                        answer["from"], answer["to"]
                    ));
                }
                return emit(&diff);
            }
            answer
        }
        Verb::Run {
            flow,
            inputs,
            workflow_id,
            revision,
            wait,
        } => {
            let mut body = Map::new();
            body.insert("inputs".into(), Value::Object(input_pairs(&inputs)?));
            if let Some(workflow_id) = workflow_id {
                body.insert("workflow_id".into(), json!(workflow_id));
            }
            if let Some(revision) = revision {
                body.insert("revision".into(), json!(revision));
            }
            let started = client
                .post_json(
                    &format!("{}/run", flow_path(client, namespace, &flow).await?),
                    &Value::Object(body),
                )
                .await?;
            if !wait {
                if session.format == Format::Table {
                    return emit(&format!(
                        "started {} (revision {}) as run {}\n",
                        text(&started["workflow_id"]),
                        started["revision"],
                        text(&started["run_id"])
                    ));
                }
                started
            } else {
                let path = format!(
                    "/api/v1/executions/{}?namespace={}&run_id={}",
                    percent_encode(&text(&started["workflow_id"])),
                    percent_encode(&text(&started["namespace"])),
                    percent_encode(&text(&started["run_id"]))
                );
                let detail = loop {
                    let detail = client.get_json(&path).await?;
                    if detail["status"] != "running" {
                        break detail;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                };
                let outputs = detail["output"][0]["outputs"].clone();
                let answer = json!({
                    "workflow_id": started["workflow_id"],
                    "run_id": started["run_id"],
                    "status": detail["status"],
                    "outputs": outputs,
                    "error": detail["error"]["message"],
                });
                if session.format == Format::Table {
                    emit(&format!(
                        "{} {}\n",
                        text(&started["workflow_id"]),
                        text(&detail["status"])
                    ))?;
                    if !outputs.is_null() {
                        emit(&format!("{}\n", serde_json::to_string_pretty(&outputs)?))?;
                    }
                } else {
                    print_json(&answer)?;
                }
                if detail["status"] != "completed" {
                    bail!(
                        "{} {}: {}",
                        text(&started["workflow_id"]),
                        text(&detail["status"]),
                        text(&detail["error"]["message"])
                    );
                }
                return Ok(());
            }
        }
        Verb::Backfill {
            flow,
            from,
            to,
            trigger,
            overlap,
        } => {
            let (namespace, id) = resolve(client, namespace, &flow).await?;
            let schedule = trigger_schedule(client, &namespace, &id, trigger.as_deref()).await?;
            let mut body = json!({"from": from, "to": to});
            if let Some(overlap) = overlap {
                body["overlap"] = json!(overlap);
            }
            let answer = client
                .post_json(
                    &format!(
                        "/api/v1/schedules/{}/backfill?namespace={}",
                        percent_encode(&schedule),
                        percent_encode(&namespace)
                    ),
                    &body,
                )
                .await?;
            if session.format == Format::Table {
                let times = answer["times"].as_array().cloned().unwrap_or_default();
                emit(&format!(
                    "{schedule}: {} run{} to take\n",
                    times.len(),
                    if times.len() == 1 { "" } else { "s" }
                ))?;
                for time in &times {
                    emit(&format!("  {}\n", text(time)))?;
                }
                return Ok(());
            }
            answer
        }
        Verb::Delete { flow } => {
            let answer = client
                .delete_json(&flow_path(client, namespace, &flow).await?)
                .await?;
            if session.format == Format::Table {
                return emit(&format!(
                    "deleted flow {}/{}\n",
                    text(&answer["namespace"]),
                    text(&answer["id"])
                ));
            }
            answer
        }
    };
    print_json(&answer)
}

/// The schedule of a flow's Schedule trigger: `trigger`, or the flow's only one.
async fn trigger_schedule(
    client: &Client,
    namespace: &str,
    flow: &str,
    trigger: Option<&str>,
) -> Result<String> {
    let prefix = format!("flow:{flow}:");
    if let Some(trigger) = trigger {
        return Ok(format!("{prefix}{trigger}"));
    }
    let listed = client
        .get_json(&format!(
            "/api/v1/schedules?namespace={}",
            percent_encode(namespace)
        ))
        .await?;
    let mut ids: Vec<String> = listed["schedules"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|schedule| text(&schedule["schedule_id"]))
        .filter(|id| id.starts_with(&prefix))
        .collect();
    match ids.len() {
        0 => bail!("flow {namespace}/{flow} has no Schedule trigger"),
        1 => Ok(ids.remove(0)),
        _ => {
            let triggers: Vec<&str> = ids.iter().map(|id| &id[prefix.len()..]).collect();
            bail!(
                "flow {namespace}/{flow} has several Schedule triggers ({}); say which with --trigger",
                triggers.join(", ")
            )
        }
    }
}

fn print_list(answer: &Value) -> Result<()> {
    let flows = answer["flows"].as_array().cloned().unwrap_or_default();
    if flows.is_empty() {
        eprintln!("no flows; save one with `keel flow apply FILE`");
        return Ok(());
    }
    let mut table = Table::new(&[
        "ID",
        "REVISION",
        "TASKS",
        "INPUTS",
        "UPDATED",
        "DESCRIPTION",
    ]);
    for flow in &flows {
        let inputs: Vec<String> = flow["inputs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|input| format!("{}:{}", text(&input["id"]), text(&input["type"])))
            .collect();
        table.row(vec![
            text(&flow["id"]),
            flow["revision"].to_string(),
            flow["task_count"].to_string(),
            inputs.join(" "),
            short_time(&flow["updated"]),
            text(&flow["description"]),
        ]);
    }
    emit(&table.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dotted_flow_name_is_read_every_way_it_can_be() {
        assert_eq!(readings("default", "hello"), vec![("default", "hello")]);
        assert_eq!(
            readings("default", "acme.team.hello"),
            vec![
                ("default", "acme.team.hello"),
                ("acme", "team.hello"),
                ("acme.team", "hello")
            ]
        );
        assert_eq!(readings("default", ".x."), vec![("default", ".x.")]);
    }

    #[test]
    fn inputs_are_name_value_pairs() {
        let inputs = input_pairs(&["a=1".into(), "b=x=y".into(), "c=".into()]).unwrap();
        assert_eq!(
            Value::Object(inputs),
            json!({"a": "1", "b": "x=y", "c": ""})
        );
        assert!(
            input_pairs(&["novalue".into()])
                .unwrap_err()
                .to_string()
                .contains("NAME=VALUE")
        );
        assert!(
            input_pairs(&["a=1".into(), "a=2".into()])
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }
}
