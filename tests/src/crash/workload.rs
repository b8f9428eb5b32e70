//! A workload for fault rounds, as operators make it through the API:
//! tickets created and changed, signed script jobs fanned out to every
//! agent, a rollout started. Each worker keeps what it was told (a 2xx
//! and what it returned) apart from the one request a fault cut off,
//! which may or may not have taken effect, and stops at that request.
//!
//! The script named takes two parameters: `run`, a tag unique in the test
//! (`r3` for round 3's rollout, `j3.7` for its eighth job), and `nap`,
//! tenths of a second to sleep.

use serde_json::{Value, json};

use super::{Reply, Rng, request};

/// A change to a ticket whose answer the crash cut off: it may or may not
/// have been made.
#[derive(Debug, Clone)]
pub enum Doubt {
    /// An internal comment with this body.
    Comment(String),
    /// A new priority.
    Priority(String),
    /// A new status.
    Status(String),
}

/// What an operator was told about one ticket.
#[derive(Debug, Clone)]
pub struct TicketLog {
    /// Its number.
    pub number: i64,
    /// Its title, unique in the test.
    pub title: String,
    /// Internal comments acknowledged (they change no status).
    pub comments: Vec<String>,
    /// The priority last acknowledged.
    pub priority: String,
    /// The status last acknowledged.
    pub status: String,
    /// The change the crash cut off, if any.
    pub doubt: Option<Doubt>,
}

/// What one operator did in a round.
#[derive(Debug, Default)]
pub struct OperatorLog {
    /// The tickets it created.
    pub tickets: Vec<TicketLog>,
    /// The title of a ticket whose creation the crash cut off.
    pub created_in_doubt: Option<String>,
    /// Writes acknowledged (creations and changes).
    pub acked: usize,
    /// A refusal the workload did not expect.
    pub error: Option<String>,
}

/// Creates and changes tickets at the API `api` (`HOST:PORT`) with
/// `token` until the server dies under it; `tag` goes into every title
/// and comment, `rng` picks what to do.
pub fn operator(api: String, token: String, tag: String, mut rng: Rng) -> OperatorLog {
    let mut log = OperatorLog::default();
    for k in 0.. {
        let send = |method: &str, path: &str, body: Value| {
            request(&api, method, path, &body.to_string(), &token)
        };
        if log.tickets.is_empty() || rng.chance(25) {
            let title = format!("crash {tag} ticket {k}");
            let body = json!({"title": title, "requester": "crash@example.com"});
            match send("POST", "/api/v1/tickets", body) {
                Reply::Answered(201, text) => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let Some(number) = v["number"].as_i64() else {
                        log.error = Some(format!("a ticket without a number: {text}"));
                        break;
                    };
                    log.tickets.push(TicketLog {
                        number,
                        title,
                        comments: Vec::new(),
                        priority: "normal".into(),
                        status: "new".into(),
                        doubt: None,
                    });
                }
                Reply::Answered(status, text) => {
                    log.error = Some(format!("creating a ticket: {status} {text}"));
                    break;
                }
                Reply::Lost(_) => {
                    log.created_in_doubt = Some(title);
                    break;
                }
            }
        } else {
            let i = rng.below(log.tickets.len() as u64) as usize;
            let t = &mut log.tickets[i];
            let (method, path, body, doubt) = match rng.below(3) {
                0 => {
                    let text = format!("note {k} from {tag}");
                    (
                        "POST",
                        format!("/api/v1/tickets/{}/comments", t.number),
                        json!({"body": text, "internal": true}),
                        Doubt::Comment(text),
                    )
                }
                1 => {
                    let others: Vec<&str> = ["low", "normal", "high", "urgent"]
                        .into_iter()
                        .filter(|p| *p != t.priority)
                        .collect();
                    let p = others[rng.below(others.len() as u64) as usize];
                    (
                        "PATCH",
                        format!("/api/v1/tickets/{}", t.number),
                        json!({"priority": p}),
                        Doubt::Priority(p.into()),
                    )
                }
                _ => {
                    let to = if t.status == "pending" {
                        "open"
                    } else {
                        "pending"
                    };
                    (
                        "POST",
                        format!("/api/v1/tickets/{}/status", t.number),
                        json!({"status": to}),
                        Doubt::Status(to.into()),
                    )
                }
            };
            match send(method, &path, body) {
                Reply::Answered(200..=299, _) => match doubt {
                    Doubt::Comment(c) => t.comments.push(c),
                    Doubt::Priority(p) => t.priority = p,
                    Doubt::Status(s) => t.status = s,
                },
                Reply::Answered(status, text) => {
                    log.error = Some(format!("{method} {path}: {status} {text}"));
                    break;
                }
                Reply::Lost(_) => {
                    t.doubt = Some(doubt);
                    break;
                }
            }
        }
        log.acked += 1;
        std::thread::sleep(rng.millis(10, 60));
    }
    log
}

/// What the dispatcher was told in a round.
#[derive(Debug, Default)]
pub struct DispatchLog {
    /// Acknowledged jobs: id and tag.
    pub jobs: Vec<(String, String)>,
    /// The rollout, if its creation was acknowledged: id and tag.
    pub rollout: Option<(i64, String)>,
    /// A refusal the workload did not expect.
    pub error: Option<String>,
}

/// Creates a rollout of `script` over the agents `ids` (the first one its
/// canary), then fans jobs of it out to them all, until the server dies
/// under it; `round` goes into the tags.
pub fn dispatcher(
    api: String,
    token: String,
    script: &str,
    round: usize,
    ids: Vec<String>,
    mut rng: Rng,
) -> DispatchLog {
    let mut log = DispatchLog::default();
    let tag = format!("r{round}");
    let rollout = json!({
        "action": "script", "item": script, "args": [format!("run={tag}"), "nap=2"],
        "targets": ids, "canary": ids.first().into_iter().collect::<Vec<_>>(), "waves": "50%,100%", "min_wave_size": 1,
        "soak": "1s",
        // An agent killed mid-script fails its machine: the rollout goes on.
        "pause_if_failures_exceed": "100%",
    });
    match request(
        &api,
        "POST",
        "/api/v1/rollouts",
        &rollout.to_string(),
        &token,
    ) {
        Reply::Answered(201, text) => {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            match v["id"].as_i64() {
                Some(id) => log.rollout = Some((id, tag)),
                None => log.error = Some(format!("a rollout without an id: {text}")),
            }
        }
        Reply::Answered(status, text) => log.error = Some(format!("rollout: {status} {text}")),
        Reply::Lost(_) => return log,
    }
    for k in 0.. {
        let tag = format!("j{round}.{k}");
        let job = json!({
            "action": "script", "item": script, "args": [format!("run={tag}"), "nap=2"],
            "targets": ids,
        });
        match request(&api, "POST", "/api/v1/jobs", &job.to_string(), &token) {
            Reply::Answered(200, text) => {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match v["id"].as_str() {
                    Some(id) => log.jobs.push((id.to_string(), tag)),
                    None => {
                        log.error = Some(format!("a job without an id: {text}"));
                        break;
                    }
                }
            }
            Reply::Answered(status, text) => {
                log.error = Some(format!("job: {status} {text}"));
                break;
            }
            Reply::Lost(_) => break,
        }
        std::thread::sleep(rng.millis(100, 400));
    }
    log
}
