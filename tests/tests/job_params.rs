//! A job cannot change what a signed script runs: only values for the
//! parameters its signed manifest declares reach the command, checked by
//! the server and again by the agent against the manifest it verified,
//! and the command starts with a clean environment. Real server, real
//! agent over QUIC, real SQLite file.

use deskhand_tests::fleet::{Fleet, fleet};
use serde_json::Value;

/// The variables the review used to make a benign script run something
/// else, and what each would do if it reached the interpreter.
fn hostile(marker: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "BASH_ENV",
            format!("$(touch {marker}-bash_env; echo /dev/null)"),
        ),
        ("ENV", format!("$(touch {marker}-env; echo /dev/null)")),
        ("LD_PRELOAD", format!("{marker}-nonexistent.so")),
        ("PATH", format!("{marker}-bin:/usr/bin:/bin")),
        ("PYTHONSTARTUP", format!("{marker}-startup.py")),
        (
            "PERL5OPT",
            format!("-Mstrict;system(\"touch {marker}-perl\")"),
        ),
    ]
}

/// Publishes `benign`: a bash script that evaluates its first argument
/// if it has one, and otherwise says so.
fn benign(f: &Fleet, params: Option<&str>) -> String {
    f.script_with_params(
        "benign",
        "#!/bin/bash\nif [ -n \"$1\" ]; then eval \"echo $1\"; else echo benign; fi\necho \"path=$PATH\"\n",
        &f.key,
        params,
    )
}

/// Runs the script on the fleet's agent with `values` after `--`, which
/// must be refused; returns what the CLI said.
fn refused(f: &Fleet, script: &str, values: &[&str]) -> String {
    let mut args = vec!["jobs", "run", "--script", script, "--target", &f.id, "--"];
    args.extend(values);
    let out = f.server.cli(&args);
    assert!(!out.status.success(), "{values:?} accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn created_files(f: &Fleet) -> Vec<String> {
    std::fs::read_dir(f.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pwned"))
        .collect()
}

#[test]
fn a_technician_cannot_pass_an_environment_or_arguments_a_script_does_not_declare() {
    let f = fleet();
    let name = benign(&f, None);
    let marker = f.path("pwned").display().to_string();

    // The CLI no longer has --env or --cwd, and says why.
    for flag in ["--env", "--cwd"] {
        let out = f.server.cli(&[
            "jobs", "run", "--script", &name, "--target", &f.id, flag, "X=1",
        ]);
        assert!(!out.status.success(), "{flag} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--env and --cwd are gone"), "{flag}: {err}");
    }
    // Through the API: an environment field is unknown; a value for a
    // parameter the script does not declare is refused before anything
    // is queued.
    let token = f.server.admin_token.clone();
    let (code, body) = f.server.http(
        "POST",
        "/api/v1/jobs",
        &serde_json::json!({"action": "script", "item": name, "targets": [f.id],
            "env": ["BASH_ENV=$(id)"]})
        .to_string(),
        Some(&token),
    );
    assert!(
        (400..500).contains(&code) && body.contains("env"),
        "{code} {body}"
    );
    for (var, value) in hostile(&marker) {
        let err = refused(&f, &name, &[&format!("{var}={value}")]);
        assert!(err.contains("declares no parameters"), "{var}: {err}");
    }
    let err = refused(&f, &name, &["--all"]);
    assert!(err.contains("is not NAME=VALUE"), "{err}");
    assert_eq!(
        f.server.json(&["jobs", "list"]).as_array().map(Vec::len),
        Some(0),
        "no job was created"
    );

    // The script itself still runs, with nothing but the fixed environment.
    let job = f.job(&["--script", &name]);
    let t = f.finished(&job);
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(
        t["stdout"],
        "benign\npath=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
    assert!(created_files(&f).is_empty());
}

#[test]
fn an_agent_refuses_values_a_rewritten_database_adds_and_ignores_its_own_environment() {
    let mut f = fleet();
    let marker = f.path("pwned").display().to_string();
    let declared = "[[param]]\nname = \"word\"\nkind = \"string\"\npattern = \"[a-z]{1,16}\"\n";
    let name = benign(&f, Some(declared));

    // A declared value is checked and passed; the script evaluates it.
    let ok = f.job(&["--script", &name, "--", "word=hello"]);
    let t = f.finished(&ok);
    assert_eq!(t["state"], "succeeded", "{t}");
    assert!(
        t["stdout"].as_str().unwrap_or("").starts_with("hello\n"),
        "{t}"
    );
    // A value outside its pattern is refused by the server.
    let err = refused(&f, &name, &[&format!("word=$(touch {marker}-eval)")]);
    assert!(err.contains("must match the pattern"), "{err}");

    // A server whose database is rewritten: the job's values are changed
    // after the server checked them. The agent checks them again against
    // the manifest it verified, and runs nothing.
    f.run.take().map(|mut p| p.stop());
    deskhand_tests::wait_for(deskhand_tests::fleet::WAIT, "the agent offline", || {
        (!f.server.is_online(&f.id)).then_some(())
    });
    let mut jobs = Vec::new();
    let mut values: Vec<String> = hostile(&marker)
        .into_iter()
        .map(|(var, value)| format!("{var}={value}"))
        .collect();
    values.push(format!("word=$(touch {marker}-eval)"));
    for value in &values {
        let job = f.job(&["--script", &name, "--", "word=fine"]);
        let args = serde_json::to_string(&[value]).expect("json");
        let n = f
            .server
            .sql_execute("UPDATE jobs SET args = ?1 WHERE id = ?2", &[&args, &job]);
        assert_eq!(n, 1);
        jobs.push((value.clone(), job));
    }
    // The agent starts with hostile variables in its own environment: the
    // jobs it runs must not inherit them.
    let env: Vec<(&str, String)> = hostile(&marker);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    f.run = Some(f.agent.run_with_env(&env).expect("agent runs"));
    for (value, job) in &jobs {
        let t = f.finished(job);
        assert_eq!(t["state"], "failed", "{value}: {t}");
        let msg = t["message"].as_str().unwrap_or("");
        assert!(msg.contains("refused, nothing was run"), "{value}: {msg}");
        assert_eq!(t["exit_code"], Value::Null, "{value}: nothing ran");
    }
    let clean = f.job(&["--script", &name, "--", "word=again"]);
    let t = f.finished(&clean);
    assert_eq!(t["state"], "succeeded", "{t}");
    assert!(
        t["stdout"]
            .as_str()
            .unwrap_or("")
            .ends_with("path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"),
        "{t}"
    );
    assert!(created_files(&f).is_empty(), "{:?}", created_files(&f));
}

#[test]
fn a_publisher_cannot_declare_a_variable_that_decides_what_runs_and_show_lists_declarations() {
    let f = fleet();
    for var in ["BASH_ENV", "LD_PRELOAD", "PYTHONSTARTUP", "PATH"] {
        let file = f.path("evil.sh");
        std::fs::write(&file, "echo hi\n").expect("script");
        let params = f.path("evil.toml");
        std::fs::write(
            &params,
            format!("[[param]]\nname = \"x\"\nkind = \"string\"\npass = \"env:{var}\"\n"),
        )
        .expect("params");
        let out = f.publish(
            &file,
            &f.key,
            &["--params", params.to_str().expect("utf-8")],
        );
        assert!(!out.status.success(), "{var} declared");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot be a parameter"), "{var}: {err}");
    }
    // Names follow one pattern.
    let file = f.path("ok.sh");
    std::fs::write(&file, "echo hi\n").expect("script");
    let out = f.publish(&file, &f.key, &["--name", "../../etc/passwd"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid"));

    let declared = "workdir = \"/tmp\"\n[[param]]\nname = \"level\"\nkind = \"enum\"\nvalues = [\"debug\", \"info\"]\ndefault = \"info\"\npass = \"env:LOG_LEVEL\"\ndescription = \"how much to say\"\n";
    let name = f.script_with_params(
        "levels",
        "echo \"$LOG_LEVEL in $(pwd)\"\n",
        &f.key,
        Some(declared),
    );
    let shown = f.server.json(&["scripts", "show", &name]);
    assert_eq!(shown["workdir"], "/tmp");
    assert_eq!(shown["params"][0]["name"], "level");
    assert_eq!(shown["params"][0]["pass"], "env:LOG_LEVEL");
    let text = f.server.cli(&["scripts", "show", &name]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("one of debug|info") && text.contains("env:LOG_LEVEL"),
        "{text}"
    );

    let job = f.job(&["--script", &name]);
    let t = f.finished(&job);
    assert_eq!(t["stdout"], "info in /tmp\n", "{t}");
    let job = f.job(&["--script", &name, "--", "level=debug"]);
    assert_eq!(f.finished(&job)["stdout"], "debug in /tmp\n");
    let err = refused(&f, &name, &["level=trace"]);
    assert!(err.contains("one of debug, info"), "{err}");
}
