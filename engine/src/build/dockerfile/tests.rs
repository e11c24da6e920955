//! Table tests of the parser: inputs and the instructions or errors dockerd gives for them.

use super::*;

fn only_step(text: &str) -> Instruction {
    let df = parse(&format!("FROM busybox\n{text}")).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(df.stages[0].steps.len(), 1, "{text}");
    df.stages[0].steps[0].instruction.clone()
}

fn kv(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn instructions_table() {
    let cases: Vec<(&str, Instruction)> = vec![
        (
            "RUN echo hi",
            Instruction::Run(CommandLine::Shell("echo hi".into())),
        ),
        (
            "run [\"echo\", \"hi\"]",
            Instruction::Run(CommandLine::Exec(s(&["echo", "hi"]))),
        ),
        // Not valid JSON: the shell form, as written.
        (
            "CMD [echo, hi]",
            Instruction::Cmd(CommandLine::Shell("[echo, hi]".into())),
        ),
        (
            "ENTRYPOINT [\"/bin/tool\"]",
            Instruction::Entrypoint(CommandLine::Exec(s(&["/bin/tool"]))),
        ),
        (
            "COPY a b /dest/",
            Instruction::Copy(CopySpec {
                sources: s(&["a", "b"]),
                dest: "/dest/".into(),
                ..Default::default()
            }),
        ),
        (
            "COPY --from=build --chown=1:2 --chmod=640 [\"a b\", \"/d\"]",
            Instruction::Copy(CopySpec {
                sources: s(&["a b"]),
                dest: "/d".into(),
                from: Some("build".into()),
                chown: Some("1:2".into()),
                chmod: Some("640".into()),
            }),
        ),
        (
            "ADD --chown=app x.tar /x",
            Instruction::Add(CopySpec {
                sources: s(&["x.tar"]),
                dest: "/x".into(),
                chown: Some("app".into()),
                ..Default::default()
            }),
        ),
        (
            "ENV A=1 B=\"two words\" C=a\\ b",
            Instruction::Env(kv(&[("A", "1"), ("B", "\"two words\""), ("C", "a\\ b")])),
        ),
        (
            "ENV LEGACY some  value",
            Instruction::Env(kv(&[("LEGACY", "some  value")])),
        ),
        (
            "LABEL \"com.example\"=x y=\"\"",
            Instruction::Label(kv(&[("\"com.example\"", "x"), ("y", "\"\"")])),
        ),
        (
            "ARG V",
            Instruction::Arg(vec![ArgDecl {
                name: "V".into(),
                default: None,
            }]),
        ),
        (
            "ARG V=1 W=\"x y\"",
            Instruction::Arg(vec![
                ArgDecl {
                    name: "V".into(),
                    default: Some("1".into()),
                },
                ArgDecl {
                    name: "W".into(),
                    default: Some("\"x y\"".into()),
                },
            ]),
        ),
        ("WORKDIR /a b", Instruction::Workdir("/a b".into())),
        ("USER app:app", Instruction::User("app:app".into())),
        (
            "EXPOSE 80 53/udp",
            Instruction::Expose(s(&["80", "53/udp"])),
        ),
        (
            "VOLUME [\"/a\", \"/b\"]",
            Instruction::Volume(s(&["/a", "/b"])),
        ),
        ("VOLUME /a /b", Instruction::Volume(s(&["/a", "/b"]))),
        (
            "STOPSIGNAL SIGTERM",
            Instruction::StopSignal("SIGTERM".into()),
        ),
        (
            "MAINTAINER Ana <a@b>",
            Instruction::Maintainer("Ana <a@b>".into()),
        ),
        (
            "SHELL [\"/bin/bash\", \"-c\"]",
            Instruction::Shell(s(&["/bin/bash", "-c"])),
        ),
        (
            "HEALTHCHECK NONE",
            Instruction::Healthcheck(Healthcheck::None),
        ),
        (
            "HEALTHCHECK --interval=30s --retries=3 CMD wget -q localhost",
            Instruction::Healthcheck(Healthcheck::Check {
                test: s(&["CMD-SHELL", "wget -q localhost"]),
                interval: 30_000_000_000,
                timeout: 0,
                start_period: 0,
                start_interval: 0,
                retries: 3,
            }),
        ),
        (
            "HEALTHCHECK --timeout=1m30s CMD [\"true\"]",
            Instruction::Healthcheck(Healthcheck::Check {
                test: s(&["CMD", "true"]),
                interval: 0,
                timeout: 90_000_000_000,
                start_period: 0,
                start_interval: 0,
                retries: 0,
            }),
        ),
        (
            "ONBUILD RUN echo child",
            Instruction::Onbuild("RUN echo child".into()),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(only_step(text), want, "{text}");
    }
}

#[test]
fn stages_and_meta_args() {
    let df = parse(
        "ARG BASE=busybox\nFROM --platform=linux/amd64 ${BASE} AS Build\nRUN true\nfrom build as final\nCMD sh\n",
    )
    .unwrap();
    assert_eq!(df.meta_args.len(), 1);
    assert_eq!(df.stages.len(), 2);
    assert_eq!(df.stages[0].base, "${BASE}");
    assert_eq!(df.stages[0].name.as_deref(), Some("build"));
    assert_eq!(df.stages[0].platform.as_deref(), Some("linux/amd64"));
    assert_eq!(df.stages[0].from.line, 2);
    assert_eq!(df.stages[1].steps[0].line, 5);
    assert_eq!(df.stage_index("BUILD"), Some(0));
    assert_eq!(df.stage_index("1"), Some(1));
    assert_eq!(df.stage_index("2"), None);
    assert_eq!(df.stage_index("nope"), None);
}

#[test]
fn errors_name_the_line() {
    let cases: &[(&str, &str)] = &[
        (
            "FROM busybox\nRUN true\nRUUN echo",
            "dockerfile parse error on line 3: unknown instruction: RUUN",
        ),
        (
            "FROM busybox\n\n# c\nruun echo",
            "dockerfile parse error on line 4: unknown instruction: ruun",
        ),
        (
            "RUN true",
            "dockerfile parse error on line 1: no build stage in current context",
        ),
        ("", "file with no instructions"),
        ("# only a comment\n\n", "file with no instructions"),
        ("ARG A", "file with no instructions"),
        (
            "FROM a b",
            "dockerfile parse error on line 1: FROM requires either one or three arguments",
        ),
        (
            "FROM a AS 1x",
            "dockerfile parse error on line 1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols",
        ),
        (
            "FROM a AS x\nFROM b AS x",
            "dockerfile parse error on line 2: duplicate name x",
        ),
        (
            "FROM a\nCOPY onlyone",
            "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "FROM a\nCOPY --frm=x a b",
            "dockerfile parse error on line 2: unknown flag: frm",
        ),
        (
            "FROM a\nADD --from=x a b",
            "dockerfile parse error on line 2: unknown flag: from",
        ),
        (
            "FROM a\nRUN --mount=type=cache,target=/x true",
            "dockerfile parse error on line 2: the --mount option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled",
        ),
        (
            "FROM a\nENV",
            "dockerfile parse error on line 2: ENV requires at least one argument",
        ),
        (
            "FROM a\nENV A",
            "dockerfile parse error on line 2: ENV must have two arguments",
        ),
        (
            "FROM a\nENV A=1 B",
            "dockerfile parse error on line 2: Syntax error - can't find = in \"B\". Must be of the form: name=value",
        ),
        (
            "FROM a\nWORKDIR",
            "dockerfile parse error on line 2: WORKDIR requires exactly one argument",
        ),
        (
            "FROM a\nSHELL /bin/sh -c",
            "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form",
        ),
        (
            "FROM a\nHEALTHCHECK NONE x",
            "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments",
        ),
        (
            "FROM a\nHEALTHCHECK RUN x",
            "dockerfile parse error on line 2: Unknown type \"RUN\" in HEALTHCHECK (try CMD)",
        ),
        (
            "FROM a\nHEALTHCHECK --interval=1us CMD x",
            "dockerfile parse error on line 2: Interval \"interval\" cannot be less than 1ms",
        ),
        (
            "FROM a\nONBUILD ONBUILD RUN x",
            "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        (
            "FROM a\nONBUILD FROM x",
            "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger",
        ),
        (
            "FROM a\nONBUILD RUUN x",
            "dockerfile parse error on line 2: unknown instruction: RUUN",
        ),
        (
            "FROM a\nRUN echo \\\n  more\nBAD x",
            "dockerfile parse error on line 4: unknown instruction: BAD",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(
            parse(text).unwrap_err().to_string(),
            *want,
            "input: {text:?}"
        );
    }
}

#[test]
fn continuation_keeps_the_first_line_number() {
    let df = parse("FROM a\nRUN echo a \\\n  # note\n  b\nCMD x").unwrap();
    assert_eq!(df.stages[0].steps[0].line, 2);
    assert_eq!(
        df.stages[0].steps[0].instruction,
        Instruction::Run(CommandLine::Shell("echo a   b".into()))
    );
    assert_eq!(df.stages[0].steps[1].line, 5);
    // An empty line does not end a continuation (dockerd only warns about it).
    let df = parse("FROM a\nRUN echo \\\n  more \\\n\nlast").unwrap();
    assert_eq!(
        df.stages[0].steps[0].instruction,
        Instruction::Run(CommandLine::Shell("echo   more last".into()))
    );
}

#[test]
fn go_durations() {
    use crate::timestamp::parse_go_duration as go_duration;
    assert_eq!(go_duration("0"), Some(0));
    assert_eq!(go_duration("1.5s"), Some(1_500_000_000));
    assert_eq!(go_duration("1h2m"), Some(3_720_000_000_000));
    assert_eq!(go_duration("10ms"), Some(10_000_000));
    assert_eq!(go_duration("5"), None);
    assert_eq!(go_duration("5x"), None);
}

#[test]
fn split_words_keeps_quotes() {
    use super::instruction::split_words;
    assert_eq!(
        split_words("a=\"b c\" d='e f' g\\ h \"\"", '\\'),
        s(&["a=\"b c\"", "d='e f'", "g\\ h", "\"\""])
    );
}
