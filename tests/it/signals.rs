//! A signal sent to the sapipe process alone (not its process group) stops the stage commands
//! it started, waits for them, records nothing incomplete and says what it stopped (issue 12).

use std::time::{Duration, Instant};

use crate::common::{Project, strs};

const P: &str = "pipelines/demo.yaml";

const PIDFILE: &str = r#"name: pidfile
kind: command
command: "echo $SAPIPE_STAGE >> executions.log; echo $$ > {params.pidfile}; sleep {params.seconds}; cat {inputs.text} > {outputs.text}"
params:
  pidfile: { type: string }
  seconds: { type: float, default: 30 }
inputs:
  text: {}
outputs:
  text: { type: file }
"#;

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split(' ').nth(2).is_some_and(|state| state != "Z"))
}

fn stops_its_stages_on(signal: i32) {
    let p = Project::new();
    p.write("stages/pidfile.yaml", PIDFILE);
    p.write(
        P,
        "name: s\nstages:\n  gen: { uses: gen }\n  a: { uses: pidfile, needs: [gen], with: { pidfile: a.pid } }\n  b: { uses: pidfile, needs: [gen], with: { pidfile: b.pid } }\n",
    );
    let child = p
        .command(&["run", P, "--jobs", "2"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let pids = || -> Vec<String> {
        ["a.pid", "b.pid"]
            .iter()
            .map(|f| p.read(f).trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    while pids().len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the stages never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signals the sapipe process we spawned, by its pid.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: stopping ")
            && stderr.contains("a (pid ")
            && stderr.contains("b (pid "),
        "{stderr}"
    );
    assert!(stderr.contains("nothing of them was recorded"), "{stderr}");
    for pid in pids() {
        assert!(!alive(&pid), "stage command {pid} outlived sapipe");
    }
    assert!(p.ok(&["verify"]).stdout.contains("the cache is intact"));
    let st = p.ok(&["status", P]);
    assert!(
        st.stdout.contains("a    will run: no record"),
        "{}",
        st.stdout
    );
    // Each stopped stage ran once and runs once more on the rerun.
    assert_eq!(p.executions(), strs(&["a", "b", "gen"]));
    p.write(
        P,
        &p.read(P)
            .replace("pidfile: a.pid }", "pidfile: a.pid, seconds: 0 }")
            .replace("pidfile: b.pid }", "pidfile: b.pid, seconds: 0 }"),
    );
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["a", "b"]), "{}", r.stderr);
    assert_eq!(p.executions(), strs(&["a", "a", "b", "b", "gen"]));
}

#[test]
fn sigterm_to_sapipe_alone_stops_and_reaps_its_stage_commands() {
    stops_its_stages_on(libc::SIGTERM);
}

#[test]
fn sigint_to_sapipe_alone_stops_and_reaps_its_stage_commands() {
    stops_its_stages_on(libc::SIGINT);
}
