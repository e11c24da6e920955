//! The app's window as the WebDriver tests see it: find, click, type, read, wait, screenshots;
//! and where the driver and a plain HTTP probe come from.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

/// The app under the test's driver, and where its screenshots go.
pub struct Ui {
    pub c: Client,
    pub shots: PathBuf,
    pub log: PathBuf,
}

impl Ui {
    /// Scrolls the first element matching `css` into view (before a screenshot of it).
    pub async fn scroll_to(&self, css: &str) {
        let script = format!("document.querySelector('{css}').scrollIntoView()");
        if let Err(e) = self.c.execute(&script, vec![]).await {
            self.fail(&format!("scroll to {css}: {e}")).await;
        }
    }

    /// Saves the window as `<name>.png` among the artifacts.
    pub async fn shot(&self, name: &str) {
        // Let what the last input changed reach the screen: take screenshots until two in a row
        // are the same (the page has settled), at most 20. Not requestAnimationFrame: without
        // compositing WebKitGTK may not run animation frames for an unexposed window.
        let mut last: Option<Vec<u8>> = None;
        for _ in 0..20 {
            match self.c.screenshot().await {
                Ok(png) if last.as_ref() == Some(&png) => break,
                Ok(png) => last = Some(png),
                Err(e) => {
                    eprintln!("screenshot {name}: {e}");
                    return;
                }
            }
        }
        if let Some(png) = last {
            let _ = std::fs::write(self.shots.join(format!("{name}.png")), png);
        }
    }

    /// Fails the test with a screenshot and the app's log.
    pub async fn fail(&self, what: &str) -> ! {
        self.shot("failure").await;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{what} (screenshot: {}/failure.png)\n--- app log (tail) ---\n{}",
            self.shots.display(),
            tail.join("\n")
        );
    }

    /// The first element `at` finds, waiting up to 30 s for it to appear.
    pub async fn find(&self, at: Locator<'_>) -> Element {
        match self
            .c
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(at)
            .await
        {
            Ok(e) => e,
            Err(e) => self.fail(&format!("no element {at:?}: {e}")).await,
        }
    }

    /// The first element matching `css`, waiting up to 30 s for it to appear.
    pub async fn el(&self, css: &str) -> Element {
        self.find(Locator::Css(css)).await
    }

    pub async fn click(&self, css: &str) {
        let e = self.el(css).await;
        if let Err(err) = e.click().await {
            self.fail(&format!("click {css}: {err}")).await;
        }
    }

    /// Replaces the text of the input at `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.el(css).await;
        if let Err(err) = e.clear().await {
            self.fail(&format!("clear {css}: {err}")).await;
        }
        if !text.is_empty() {
            if let Err(err) = e.send_keys(text).await {
                self.fail(&format!("type into {css}: {err}")).await;
            }
        }
    }

    /// The visible text of the first element matching `css` (empty when there is none).
    pub async fn text(&self, css: &str) -> String {
        match self.c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let e = self.c.find(Locator::Css(css)).await.ok()?;
        e.attr(name).await.ok().flatten()
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.c
            .find_all(Locator::Css(css))
            .await
            .map(|v| !v.is_empty())
            .unwrap_or(false)
    }

    /// Waits until the text at `css` satisfies `ok`; returns it.
    pub async fn wait_text(&self, css: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let t = self.text(css).await;
            if ok(&t) {
                return t;
            }
            if Instant::now() > deadline {
                self.fail(&format!("text of {css} never matched; last: {t:?}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The message that appears at `css` (an error next to a field), waiting up to 30 s.
    pub async fn message(&self, css: &str) -> String {
        self.wait_text(css, Duration::from_secs(30), |t| !t.is_empty())
            .await
    }

    pub async fn wait_gone(&self, css: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.exists(css).await {
            if Instant::now() > deadline {
                self.fail(&format!("{css} never went away")).await;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

/// `tauri-driver` from PATH or cargo's bin directory.
pub fn tauri_driver_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("tauri-driver"))
        .find(|p| p.is_file())
        .expect(
            "tauri-driver not found: `cargo install tauri-driver --locked` (scripts/test.sh does)",
        )
}

/// GET / on 127.0.0.1:port; the body, or None while nothing answers.
pub fn http_get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.contains(" 200 ").then_some(out)
}
