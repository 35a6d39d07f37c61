//! Just enough of the W3C WebDriver protocol for the tests, over plain HTTP to ChromeDriver.

use serde_json::{Value, json};

use crate::{E2eError, Result};

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

#[derive(Debug, Clone)]
pub struct WebDriver {
    http: reqwest::Client,
    session_url: String,
}

#[derive(Debug, Clone)]
pub struct Element {
    driver: WebDriver,
    id: String,
}

impl WebDriver {
    /// Opens a browser session; element look-ups wait up to `implicit_wait_ms` for the element.
    pub async fn new_session(
        driver_url: &str,
        capabilities: Value,
        implicit_wait_ms: u64,
    ) -> Result<WebDriver> {
        let http = reqwest::Client::new();
        let value = call(
            &http,
            reqwest::Method::POST,
            &format!("{driver_url}/session"),
            Some(json!({ "capabilities": { "alwaysMatch": capabilities } })),
        )
        .await?;
        let session_id = value["sessionId"]
            .as_str()
            .ok_or_else(|| E2eError(format!("no session id in {value}")))?;
        let driver = WebDriver {
            http,
            session_url: format!("{driver_url}/session/{session_id}"),
        };
        driver
            .post("/timeouts", json!({ "implicit": implicit_wait_ms }))
            .await?;
        Ok(driver)
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// Sizes the browser's window; headless, its viewport is the window.
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await
            .map(drop)
    }

    pub async fn refresh(&self) -> Result<()> {
        self.post("/refresh", json!({})).await.map(drop)
    }

    pub async fn current_url(&self) -> Result<String> {
        string(self.get("/url").await?)
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Result<Element> {
        self.find_by("css selector", css).await
    }

    /// The first element matching the XPath `path` (which can test text), waiting for it.
    pub async fn find_xpath(&self, path: &str) -> Result<Element> {
        self.find_by("xpath", path).await
    }

    async fn find_by(&self, using: &str, selector: &str) -> Result<Element> {
        let value = self
            .post("/element", json!({ "using": using, "value": selector }))
            .await
            .map_err(|error| E2eError(format!("finding `{selector}`: {error}")))?;
        let id = value[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| E2eError(format!("no element reference in {value}")))?;
        Ok(Element {
            driver: self.clone(),
            id: id.to_owned(),
        })
    }

    /// Every element matching `css` now, without waiting.
    pub async fn find_all_now(&self, css: &str) -> Result<Vec<Element>> {
        self.post("/timeouts", json!({ "implicit": 0 })).await?;
        let found = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        self.post("/timeouts", json!({ "implicit": 10_000 }))
            .await?;
        let found = found?;
        let list = found
            .as_array()
            .ok_or_else(|| E2eError(format!("not a list of elements: {found}")))?;
        Ok(list
            .iter()
            .filter_map(|item| item[ELEMENT_KEY].as_str())
            .map(|id| Element {
                driver: self.clone(),
                id: id.to_owned(),
            })
            .collect())
    }

    /// Runs `script` in the page and returns its result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Sends a raw command of the session, e.g. for the WebAuthn extension endpoints.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value> {
        call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.session_url),
            Some(body),
        )
        .await
    }

    /// Gives the browser a virtual passkey authenticator (WebDriver's WebAuthn extension): a
    /// platform authenticator that keeps discoverable credentials and verifies its user.
    pub async fn add_virtual_authenticator(&self) -> Result<String> {
        let value = self
            .post(
                "/webauthn/authenticator",
                json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                }),
            )
            .await?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| E2eError(format!("no authenticator id in {value}")))
    }

    async fn get(&self, path: &str) -> Result<Value> {
        call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.session_url),
            None,
        )
        .await
    }

    /// The page as the browser shows it, as PNG bytes.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        use base64::Engine;
        let encoded = string(self.get("/screenshot").await?)?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|error| E2eError::context("screenshot", error))
    }

    pub async fn quit(&self) -> Result<()> {
        call(&self.http, reqwest::Method::DELETE, &self.session_url, None)
            .await
            .map(drop)
    }
}

impl Element {
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.driver
            .post(&self.path("/value"), json!({ "text": text }))
            .await
            .map(drop)
    }

    pub async fn click(&self) -> Result<()> {
        self.driver
            .post(&self.path("/click"), json!({}))
            .await
            .map(drop)
    }

    pub async fn clear(&self) -> Result<()> {
        self.driver
            .post(&self.path("/clear"), json!({}))
            .await
            .map(drop)
    }

    pub async fn text(&self) -> Result<String> {
        string(self.driver.get(&self.path("/text")).await?)
    }

    pub async fn property(&self, name: &str) -> Result<Value> {
        self.driver
            .get(&self.path(&format!("/property/{name}")))
            .await
    }

    /// Whether the element is shown (laid out, not hidden by CSS).
    pub async fn displayed(&self) -> Result<bool> {
        let shown = self.driver.get(&self.path("/displayed")).await?;
        shown
            .as_bool()
            .ok_or_else(|| E2eError(format!("displayed answered {shown}")))
    }

    /// The element's attribute `name`, or an empty string when it has none.
    pub async fn attribute(&self, name: &str) -> Result<String> {
        let value = self
            .driver
            .get(&self.path(&format!("/attribute/{name}")))
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    fn path(&self, command: &str) -> String {
        format!("/element/{}{command}", self.id)
    }
}

fn string(value: Value) -> Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| E2eError(format!("expected a string, got {value}")))
}

/// One WebDriver command; answers its `value`, or the driver's error and message.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value> {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .map_err(|error| E2eError::context(&format!("{method} {url}"), error))?;
    let status = response.status();
    let mut body: Value = response.json().await.map_err(|error| {
        E2eError::context(&format!("reading the answer to {method} {url}"), error)
    })?;
    let value = body["value"].take();
    if status.is_success() {
        Ok(value)
    } else {
        Err(E2eError(format!(
            "{method} {url}: {} ({})",
            value["error"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or_default()
        )))
    }
}
