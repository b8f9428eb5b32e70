//! Operators of each role for the role tests: added through the API with
//! a token and a console password, logged in to the console, and the
//! audit log's length, which every change an operator makes grows.

use crate::Server;
use crate::browser::Browser;

/// An operator the test added: their name, API token and console password.
#[derive(Debug, Clone)]
pub struct Operator {
    /// Their name.
    pub name: String,
    /// Their role as the API spells it (`viewer`, `technician`, `admin`).
    pub role: String,
    /// Their API token.
    pub token: String,
    /// Their console password.
    pub password: String,
}

impl Operator {
    /// Adds an operator with `role` and sets their console password, as
    /// the first admin.
    pub fn add(server: &Server, name: &str, role: &str) -> Self {
        let admin = Some(server.admin_token.as_str());
        let body = format!(r#"{{"name":"{name}","role":"{role}"}}"#);
        let (code, text) = server.http("POST", "/api/v1/operators", &body, admin);
        assert_eq!(code, 200, "adding operator {name}: {text}");
        let created: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let token = created["token"].as_str().expect("a token").to_string();
        let password = format!("{name} has a long password");
        let body = format!(r#"{{"password":"{password}"}}"#);
        let path = format!("/api/v1/operators/{name}/password");
        let (code, text) = server.http("POST", &path, &body, admin);
        assert_eq!(code, 200, "setting {name}'s password: {text}");
        Self {
            name: name.to_string(),
            role: role.to_string(),
            token,
            password,
        }
    }

    /// A browser logged in to the console as this operator.
    pub fn console(&self, server: &Server) -> Browser {
        let mut b = Browser::new(&server.api);
        let r = b.login(&self.name, &self.password);
        assert_eq!(r.status, 303, "{} logs in: {}", self.name, r.body);
        assert!(b.cookie.is_some(), "{} got no session cookie", self.name);
        b
    }
}

/// How many entries the audit log holds (at most 10,000).
pub fn audit_len(server: &Server) -> usize {
    let (code, text) = server.http(
        "GET",
        "/api/v1/audit?limit=10000",
        "",
        Some(&server.admin_token),
    );
    assert_eq!(code, 200, "the audit log: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    v.as_array().map_or(0, Vec::len)
}
