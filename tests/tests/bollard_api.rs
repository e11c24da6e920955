//! The engine through bollard, the Rust client the desktop app uses: version negotiation, pull
//! progress, create/start/wait/logs/inspect/remove.

use berth_tests::*;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bollard_pull_run_logs_remove() {
    let reg = fixture_registry();
    let d = Berthd::start();
    // bollard speaks 1.53 by default; negotiation settles on the engine's 1.47, as with dockerd.
    let docker = d.bollard().negotiate_version().await.expect("negotiate");
    assert_eq!(docker.client_version().to_string(), "1.47");
    let v = docker.version().await.expect("version");
    assert_eq!(v.api_version.as_deref(), Some("1.47"));

    let image = reg.image("busybox");
    let mut progress = docker.create_image(
        Some(
            CreateImageOptionsBuilder::default()
                .from_image(&image)
                .tag("latest")
                .build(),
        ),
        None,
        None,
    );
    let mut statuses = Vec::new();
    while let Some(item) = progress.next().await {
        let item = item.expect("pull progress");
        statuses.push(item.status.unwrap_or_default());
    }
    assert!(
        statuses.iter().any(|s| s == "Pull complete"),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| s.starts_with("Digest: sha256:")),
        "{statuses:?}"
    );

    let images = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].repo_tags, vec![format!("{image}:latest")]);

    let created = docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name("from-bollard")
                    .build(),
            ),
            ContainerCreateBody {
                image: Some(format!("{image}:latest")),
                cmd: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    "echo out; echo err >&2; exit 6".into(),
                ]),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    docker
        .start_container(
            &created.id,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .expect("start");
    // bollard sends the wait request only when its stream is first polled, so a "next-exit"
    // wait set up before the start could miss a fast exit: wait for "not-running" after it.
    let mut wait = docker.wait_container(
        &created.id,
        Some(
            WaitContainerOptionsBuilder::default()
                .condition("not-running")
                .build(),
        ),
    );
    // bollard reports a non-zero exit as an error carrying the code.
    match wait.next().await {
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
            assert_eq!(code, 6)
        }
        other => panic!("unexpected wait result: {other:?}"),
    }
    let info = docker
        .inspect_container(
            &created.id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .unwrap();
    let state = info.state.unwrap();
    assert_eq!(state.exit_code, Some(6));
    assert_eq!(info.name.as_deref(), Some("/from-bollard"));

    let mut logs = docker.logs(
        &created.id,
        Some(
            LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .build(),
        ),
    );
    let mut out = String::new();
    let mut err = String::new();
    while let Some(chunk) = logs.next().await {
        match chunk.expect("log chunk") {
            bollard::container::LogOutput::StdOut { message } => {
                out.push_str(&String::from_utf8_lossy(&message))
            }
            bollard::container::LogOutput::StdErr { message } => {
                err.push_str(&String::from_utf8_lossy(&message))
            }
            _ => {}
        }
    }
    assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));

    docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .expect("remove");
    let gone = docker
        .inspect_container(
            &created.id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await;
    match gone {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        }) => {
            assert_eq!(status_code, 404);
            assert_eq!(message, format!("No such container: {}", created.id));
        }
        other => panic!("expected 404, got {other:?}"),
    }
}
