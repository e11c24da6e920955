//! Building an image from a folder with a Dockerfile: the folder is sent as the docker CLI sends
//! it (minus what `.dockerignore` excludes), and the engine's step stream comes back as
//! [`BuildEvent`]s (steps, cached steps, output, the failure and the image ID) for the UI.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;
use tracing::info;
use ts_rs::TS;

use crate::backend::{Backend, Sink};
use crate::error::{from_bollard, CommandError, CommandResult};

/// The longest silence between two messages of a build (a long `RUN` may print nothing).
const BUILD_IDLE: Duration = Duration::from_secs(600);

/// What the "Build an image" form sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BuildRequest {
    /// The folder holding the Dockerfile and what it copies.
    pub context: String,
    /// The Dockerfile's path inside the folder; empty: `Dockerfile`.
    pub dockerfile: String,
    /// `name[:tag]`; empty: an untagged image.
    pub tag: String,
    pub build_args: BTreeMap<String, String>,
}

/// One thing that happened in a build, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum BuildEvent {
    /// `Step 2/7 : COPY . /app`.
    Step {
        number: u32,
        total: u32,
        instruction: String,
    },
    /// The current step was taken from the cache.
    Cached { number: u32 },
    /// A line of output: what a `RUN` prints, the builder's own lines.
    Output { text: String },
    /// The build stopped here.
    Failed { step: Option<u32>, message: String },
    /// The image was built: its ID.
    Built { id: String },
}

/// Turns the engine's stream text (split anywhere) into events, a line at a time.
#[derive(Debug, Default)]
pub struct StepParser {
    partial: String,
    step: Option<u32>,
}

impl StepParser {
    pub fn step(&self) -> Option<u32> {
        self.step
    }

    pub fn feed(&mut self, text: &str) -> Vec<BuildEvent> {
        self.partial.push_str(text);
        let mut out = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            if let Some(e) = self.line(line.trim_end_matches(['\n', '\r'])) {
                out.push(e);
            }
        }
        out
    }

    /// What is left without a final newline.
    pub fn finish(&mut self) -> Vec<BuildEvent> {
        let rest = std::mem::take(&mut self.partial);
        self.line(rest.trim_end()).into_iter().collect()
    }

    fn line(&mut self, line: &str) -> Option<BuildEvent> {
        if line.trim().is_empty() {
            return None;
        }
        if let Some(rest) = line.strip_prefix("Step ") {
            if let Some((counts, instruction)) = rest.split_once(" : ") {
                if let Some((n, total)) = counts.split_once('/') {
                    if let (Ok(number), Ok(total)) = (n.parse(), total.parse()) {
                        self.step = Some(number);
                        return Some(BuildEvent::Step {
                            number,
                            total,
                            instruction: instruction.to_string(),
                        });
                    }
                }
            }
        }
        if line.trim() == "---> Using cache" {
            if let Some(number) = self.step {
                return Some(BuildEvent::Cached { number });
            }
        }
        Some(BuildEvent::Output {
            text: line.to_string(),
        })
    }
}

fn context_dir(req: &BuildRequest) -> CommandResult<PathBuf> {
    let dir = PathBuf::from(req.context.trim());
    if req.context.trim().is_empty() {
        return Err(CommandError::invalid(
            "context",
            "Choose the folder to build",
        ));
    }
    if !dir.is_dir() {
        return Err(CommandError::invalid(
            "context",
            format!("{} is not a folder", dir.display()),
        ));
    }
    Ok(dir)
}

impl Backend {
    /// Builds `req`, sending its events; returns the image ID.
    pub async fn build_image(
        &self,
        req: BuildRequest,
        sink: impl Sink<BuildEvent>,
    ) -> CommandResult<String> {
        let dir = context_dir(&req)?;
        let dockerfile = match req.dockerfile.trim() {
            "" => "Dockerfile".to_string(),
            f => f.to_string(),
        };
        if !dir.join(&dockerfile).is_file() {
            return Err(CommandError::invalid(
                "dockerfile",
                format!("There is no {dockerfile} in {}", dir.display()),
            ));
        }
        let docker = self.docker().await?;
        let tar = {
            let (dir, dockerfile) = (dir.clone(), dockerfile.clone());
            tokio::task::spawn_blocking(move || berth_build_context::context_tar(&dir, &dockerfile))
                .await
                .map_err(|e| CommandError::engine(format!("reading the folder: {e}")))?
                .map_err(|e| CommandError::invalid("context", e.to_string()))?
        };
        info!(context = %dir.display(), tag = %req.tag, bytes = tar.len(), "building");
        let tag = req.tag.trim();
        let opts = BuildImageOptions {
            dockerfile,
            t: (!tag.is_empty()).then(|| tag.to_string()),
            rm: true,
            buildargs: (!req.build_args.is_empty()).then(|| {
                req.build_args
                    .clone()
                    .into_iter()
                    .collect::<HashMap<_, _>>()
            }),
            ..Default::default()
        };
        let mut stream = docker.build_image(
            opts,
            None::<HashMap<String, bollard::auth::DockerCredentials>>,
            Some(bollard::body_full(tar.into())),
        );
        let mut parser = StepParser::default();
        let mut built = None;
        let mut listening = true;
        let mut send = |e: BuildEvent| {
            // The build goes on when the window stops listening.
            if listening && !sink(e) {
                listening = false;
            }
        };
        loop {
            let item = tokio::time::timeout(BUILD_IDLE, stream.next())
                .await
                .map_err(|_| CommandError::timed_out("the build", BUILD_IDLE.as_secs()))?;
            let info = match item {
                None => break,
                Some(Ok(info)) => info,
                Some(Err(bollard::errors::Error::DockerStreamError { error })) => {
                    send(BuildEvent::Failed {
                        step: parser.step(),
                        message: error.clone(),
                    });
                    return Err(CommandError::engine(error));
                }
                Some(Err(e)) => return Err(from_bollard(&e)),
            };
            if let Some(text) = info.stream {
                parser.feed(&text).into_iter().for_each(&mut send);
            }
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                parser.finish().into_iter().for_each(&mut send);
                send(BuildEvent::Failed {
                    step: parser.step(),
                    message: message.clone(),
                });
                return Err(CommandError::engine(message));
            }
            if let Some(id) = info.aux.and_then(|a| a.id) {
                built = Some(id);
            }
        }
        parser.finish().into_iter().for_each(&mut send);
        let id = built.ok_or_else(|| CommandError::engine("the build ended without an image"))?;
        send(BuildEvent::Built { id: id.clone() });
        Ok(id)
    }
}

/// The tour's sample folder: a Dockerfile on top of the built-in welcome image that adds one
/// page, so a beginner builds an image with no registry at hand. Comments in `lang` (es or en).
pub fn write_build_sample(dir: &std::path::Path, lang: &str) -> std::io::Result<()> {
    let es = lang.starts_with("es");
    let dockerfile = if es {
        "# Tu primera imagen: la imagen de bienvenida más una página tuya.\n\
         # Cada instrucción crea una capa; si vuelves a construir, los pasos sin cambios salen de la caché.\n\
         FROM berth/welcome\n\
         COPY mine.html /www/mine.html\n"
    } else {
        "# Your first image: the welcome image plus a page of your own.\n\
         # Each instruction makes a layer; build again and the unchanged steps come from the cache.\n\
         FROM berth/welcome\n\
         COPY mine.html /www/mine.html\n"
    };
    let page = if es {
        "<!doctype html>\n<html lang=\"es\"><meta charset=\"utf-8\"><title>Mi imagen</title>\n\
         <h1>Esta página viene de tu propia imagen</h1>\n</html>\n"
    } else {
        "<!doctype html>\n<html lang=\"en\"><meta charset=\"utf-8\"><title>My image</title>\n\
         <h1>This page comes from your own image</h1>\n</html>\n"
    };
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("Dockerfile"), dockerfile)?;
    std::fs::write(dir.join("mine.html"), page)
}

/// Writes the tour's sample folder under the app's data dir; returns its path.
#[tauri::command]
pub async fn prepare_build_sample(app: tauri::AppHandle, lang: String) -> CommandResult<String> {
    use tauri::Manager;
    let dir = app
        .path()
        .app_data_dir()
        .map_err(|e| CommandError::engine(format!("no data folder for the app: {e}")))?
        .join("build-sample");
    write_build_sample(&dir, &lang)
        .map_err(|e| CommandError::engine(format!("writing {}: {e}", dir.display())))?;
    Ok(dir.display().to_string())
}

#[tauri::command]
pub async fn build_image(
    backend: State<'_, std::sync::Arc<Backend>>,
    request: BuildRequest,
    on_event: Channel<BuildEvent>,
) -> CommandResult<String> {
    backend
        .build_image(request, move |e| on_event.send(e).is_ok())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_cache_hits_and_output_come_out_of_split_stream_text() {
        let mut p = StepParser::default();
        let mut events = p.feed("Step 1/3 : FROM busy");
        assert!(events.is_empty(), "no line yet");
        events.extend(p.feed("box\n ---> 3f1c\nStep 2/3 : COPY . /app\n ---> Using cache\n"));
        events.extend(p.feed("Step 3/3 : RUN echo hi\n ---> Running in 9a\nhi\n"));
        events.extend(p.finish());
        assert_eq!(
            events,
            vec![
                BuildEvent::Step {
                    number: 1,
                    total: 3,
                    instruction: "FROM busybox".into()
                },
                BuildEvent::Output {
                    text: " ---> 3f1c".into()
                },
                BuildEvent::Step {
                    number: 2,
                    total: 3,
                    instruction: "COPY . /app".into()
                },
                BuildEvent::Cached { number: 2 },
                BuildEvent::Step {
                    number: 3,
                    total: 3,
                    instruction: "RUN echo hi".into()
                },
                BuildEvent::Output {
                    text: " ---> Running in 9a".into()
                },
                BuildEvent::Output { text: "hi".into() },
            ]
        );
        assert_eq!(p.step(), Some(3));
    }

    #[test]
    fn a_line_that_only_looks_like_a_step_is_output() {
        let mut p = StepParser::default();
        assert_eq!(
            p.feed("Step one : nothing\n"),
            vec![BuildEvent::Output {
                text: "Step one : nothing".into()
            }]
        );
        assert_eq!(p.step(), None);
    }

    #[test]
    fn the_sample_folder_builds_on_the_welcome_image_in_the_users_language() {
        let dir = std::env::temp_dir().join(format!("berth-sample-{}", std::process::id()));
        write_build_sample(&dir, "es-ES").expect("write");
        let df = std::fs::read_to_string(dir.join("Dockerfile")).expect("Dockerfile");
        assert!(df.contains("FROM berth/welcome\nCOPY mine.html /www/mine.html\n"));
        assert!(df.contains("Tu primera imagen"));
        write_build_sample(&dir, "en").expect("write again");
        let page = std::fs::read_to_string(dir.join("mine.html")).expect("page");
        assert!(page.contains("lang=\"en\""));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_folder_or_dockerfile_is_a_field_error() {
        let err = context_dir(&BuildRequest::default()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("context"));
        let req = BuildRequest {
            context: "/no/such/folder".into(),
            ..Default::default()
        };
        assert!(context_dir(&req)
            .unwrap_err()
            .message
            .contains("is not a folder"));
    }
}
