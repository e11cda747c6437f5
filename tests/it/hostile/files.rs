//! Symlink outputs (case 5), special files as path parameters (case 6) and publish targets (case 8).

use super::*;

#[cfg(unix)]
#[test]
fn case5_a_symlink_output_is_refused_naming_the_output_and_its_target_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    let victim = Victim::new();
    std::fs::set_permissions(&victim.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.write(
        "stages/linker.yaml",
        &format!(
            "name: linker\nkind: command\ncommand: \"ln -s {} {{outputs.out}}\"\noutputs:\n  out: {{ type: file }}\n",
            victim.path.display()
        ),
    );
    p.write(
        "stages/dirlinker.yaml",
        &format!(
            "name: dirlinker\nkind: command\ncommand: \"mkdir -p {{outputs.out}} && ln -s {} {{outputs.out}}/x\"\noutputs:\n  out: {{ type: dir }}\n",
            victim.path.display()
        ),
    );
    for uses in ["linker", "dirlinker"] {
        p.write(
            P,
            &format!("name: demo\nstages:\n  s: {{ uses: {uses} }}\n"),
        );
        let r = p.sapipe(&["run", P]);
        no_panic(&r, uses);
        r.failed_with("output 'out' is or holds a symbolic link");
        let mode = std::fs::metadata(&victim.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o644,
            "{uses}: sapipe changed the link target's mode"
        );
        assert!(walk(&p.path("cache/records")).is_empty());
        victim.assert_untouched(uses);
    }
}

#[cfg(unix)]
#[test]
fn case6_a_fifo_or_device_as_a_path_parameter_is_refused_before_hashing() {
    let p = Project::new();
    p.write(
        "stages/reader.yaml",
        "name: reader\nkind: command\ncommand: \"cat {params.source} > {outputs.out}\"\nparams:\n  source: { type: path }\noutputs:\n  out: { type: file }\n",
    );
    let fifo = p.path("data.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir_all(p.path("folder")).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(p.path("folder/inner.fifo"))
            .status()
            .unwrap()
            .success()
    );
    for (source, shown) in [
        ("data.fifo", "is a FIFO"),
        ("/dev/zero", "is a device"),
        ("folder", "is a FIFO"),
    ] {
        p.write(
            P,
            &format!(
                "name: demo\nstages:\n  s: {{ uses: reader, with: {{ source: {source} }} }}\n"
            ),
        );
        for args in [&["status", P][..], &["run", P]] {
            let r = within_a_minute(p.command(args));
            no_panic(&r, source);
            r.failed_with("parameter 'source'");
            r.failed_with(shown);
        }
    }
}

#[cfg(unix)]
#[test]
fn case8_publish_never_follows_a_symlink_nor_overwrites_the_project() {
    let p = Project::new();
    let victim = Victim::new();
    let outside = victim.path.parent().unwrap().to_owned();
    std::fs::create_dir_all(p.path("results")).unwrap();
    std::os::unix::fs::symlink(&outside, p.path("results/linked")).unwrap();
    p.write(
        P,
        "name: demo\nstages:\n  gen: { uses: gen, publish: { text: results/linked/precious.txt } }\n",
    );
    let r = p.sapipe(&["run", P]);
    no_panic(&r, "run");
    r.failed_with("results/linked is a symbolic link");
    victim.assert_untouched("publish");

    for target in [
        "stages/gen.yaml",
        "pipelines/demo.yaml",
        "sapipe.toml",
        "cache/x",
        ".",
    ] {
        p.write(
            P,
            &format!(
                "name: demo\nstages:\n  gen: {{ uses: gen, publish: {{ text: {target} }} }}\n"
            ),
        );
        let r = p.sapipe(&["status", P]);
        r.failed_with("field 'publish', output 'text'");
        assert!(p.read("stages/gen.yaml").starts_with("name: gen"));
    }
}
