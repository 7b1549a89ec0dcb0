//! `quanze config check`, and `serve` refusing what it finds.

use super::upgrades::Served;
use super::*;

#[test]
fn config_check_prints_the_configuration_masked_and_every_problem_at_once() {
    let scratch = ScratchDatabase::migrated();
    let dir = scratch.dir.path();
    let file = dir.join("quanze.toml");
    std::fs::write(
        &file,
        quanze::config::DEFAULT_TOML
            .replace(
                r#"power_stages = ["legality", "government"]"#,
                r#"power_stages = ["legality", "mayor"]"#,
            )
            .replace("expensive_wait_ms = 2000", "expensive_wait_ms = 70000"),
    )
    .unwrap();
    let problems = |command: &mut std::process::Command| {
        command
            .arg("--config")
            .arg(&file)
            .env("QUANZE_JWT_SECRET", "hunter2-hunter2-xx")
            .env("QUANZE_BIND", "0.0.0.0")
            .env("QUANZE_METRICS_BIND", "127.0.0.1")
            .env("QUANZE_SIGNING_KEY_FILE", dir.join("absent.pem"))
            .env("QUANZE_LOG_FORMAT", "xml");
    };
    let mut check = quanze_command(&scratch.url, dir);
    problems(&mut check);
    let output = check.args(["config", "check"]).output().unwrap();
    assert!(!output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout);
    for setting in [
        "server.bind",
        "metrics.bind",
        "jwt.secret",
        "keys.signing_key_file",
        "publication.power_stages",
        "limits.expensive_wait_ms",
        "log.format",
    ] {
        assert!(
            printed.contains(&format!("# error: {setting}:")),
            "{setting} not reported:\n{printed}"
        );
    }
    assert!(
        !printed.contains("hunter2"),
        "the secret is masked:\n{printed}"
    );
    assert!(
        printed.contains("[database]") && printed.contains("[metrics]"),
        "{printed}"
    );

    // serve runs the same check and refuses to start.
    let mut serve = quanze_command(&scratch.url, dir);
    problems(&mut serve);
    let refused = serve.arg("serve").output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("publication.power_stages"), "{said}");
    assert!(said.contains("jwt.secret"), "{said}");
    assert!(!said.contains("hunter2"), "{said}");
}

#[test]
fn a_sound_configuration_checks_clean_and_serves() {
    let scratch = ScratchDatabase::migrated();
    let dir = scratch.dir.path();
    let output = quanze_command(&scratch.url, dir)
        .args(["config", "check"])
        .env("QUANZE_JWT_SECRET", "x".repeat(40))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("fit to serve"), "{printed}");
    assert!(
        printed.contains("# warning: keys:"),
        "development keys are named: {printed}"
    );
    let mut served = Served::start(quanze_command(&scratch.url, dir), dir, &[]);
    served.ready().unwrap();
}
