//! The module host: loads modules from `<data>/modules/` (see [`loader`]), keeps them in
//! a [`Registry`] shared by the web server and the workers, and calls them on their own
//! threads with a timeout. A module that panics, errors, answers nonsense or runs past its
//! timeout several times in a row is disabled with the reason stored, and the server
//! carries on. The ABI and the messages come from `postdesk_module_api` (`modules/api`).
//!
//! Hook points: actions are delivered from the `events` table by `jobs::events`; filters
//! are in [`filters`]; slots in [`Registry::render_slot`]; routes in [`Registry::route`].

pub mod filters;
pub mod loader;
pub mod services;
pub mod store;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use postdesk_module_api::host::Library;
use postdesk_module_api::manifest::Manifest;
use postdesk_module_api::{CallKind, HookCall, HookReply, HostInfo, RouteRequest, RouteResponse};
use serde_json::Value;

use crate::db::{AnyConnection, DbError, DbPool};

/// This Postdesk's version, which `min_postdesk_version` in a manifest is checked against.
pub const POSTDESK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Limits the host puts on modules.
#[derive(Debug, Clone)]
pub struct HookOptions {
    /// How long a filter, slot or route may take before the host goes on without it.
    pub call_timeout: Duration,
    /// How long an action may take (it runs in the background, so longer).
    pub action_timeout: Duration,
    /// Failures in a row after which a module is disabled.
    pub max_failures: i32,
}

impl Default for HookOptions {
    fn default() -> Self {
        HookOptions {
            call_timeout: Duration::from_secs(2),
            action_timeout: Duration::from_secs(30),
            max_failures: 3,
        }
    }
}

/// A module as the host knows it.
#[derive(Debug)]
pub struct LoadedModule {
    /// Its name.
    pub name: String,
    /// Its manifest (missing when unreadable).
    pub manifest: Option<Manifest>,
    library: Option<Arc<Library>>,
    /// Why it could not be loaded.
    pub load_error: Option<String>,
    runtime: RwLock<Runtime>,
}

#[derive(Debug, Clone, Default)]
struct Runtime {
    active: bool,
    disabled_reason: String,
    failures: i32,
    settings: serde_json::Map<String, Value>,
}

/// What `postdesk module list` and the admin see about one module.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModuleStatus {
    /// Name.
    pub name: String,
    /// Version ("" when the manifest could not be read).
    pub version: String,
    /// Description.
    pub description: String,
    /// Loaded and switched on.
    pub active: bool,
    /// Why it could not be loaded.
    pub load_error: Option<String>,
    /// Why it was disabled ("" if it was not, or the admin switched it off).
    pub disabled_reason: String,
}

impl ModuleStatus {
    /// One line for `postdesk module list`: name, version, and active, inactive, disabled
    /// (with the reason) or failed to load (with the error).
    pub fn line(&self) -> String {
        let state = if let Some(e) = &self.load_error {
            format!("failed to load: {e}")
        } else if self.active {
            "active".into()
        } else if self.disabled_reason.is_empty() {
            "inactive".into()
        } else {
            format!("inactive: {}", self.disabled_reason)
        };
        let version = if self.version.is_empty() {
            "-"
        } else {
            &self.version
        };
        format!("{:<24} {:<10} {state}", self.name, version)
    }
}

/// Why a call to a module did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No such module, or it is not active.
    #[error("module {0} is not active")]
    Inactive(String),
    /// The module failed (the message says how); counted towards disabling it.
    #[error("module {module} failed: {message}")]
    Failed {
        /// Which module.
        module: String,
        /// What happened.
        message: String,
    },
}

/// All modules found at start, shared by the web server and the workers.
pub struct Registry {
    pool: DbPool,
    host: HostInfo,
    options: HookOptions,
    modules: Vec<Arc<LoadedModule>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("modules", &self.modules)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Loads every module under `<data_dir>/modules/`, reads each one's stored state,
    /// and starts an event cursor for modules with actions.
    pub fn load(
        pool: DbPool,
        data_dir: &Path,
        public_url: &str,
        options: HookOptions,
    ) -> Result<Registry, DbError> {
        let mut conn = pool.get()?;
        let mut modules = Vec::new();
        for found in loader::scan(&data_dir.join("modules")) {
            if let Some(e) = &found.error {
                tracing::error!(module = %found.name, dir = %found.dir.display(), error = %e, "module refused");
            }
            let mut runtime = Runtime::default();
            if let (Some(manifest), None) = (&found.manifest, &found.error) {
                let state = store::state_or_create(&mut conn, &found.name)?;
                runtime = runtime_from(&state, manifest);
                if manifest.hooks.iter().any(|h| is_action(h)) {
                    crate::jobs::events::ensure_cursor(&mut conn, &consumer_name(&found.name))?;
                }
                tracing::info!(module = %found.name, version = %manifest.version, active = runtime.active, "module loaded");
            }
            modules.push(Arc::new(LoadedModule {
                name: found.name,
                manifest: found.manifest,
                library: found.library,
                load_error: found.error,
                runtime: RwLock::new(runtime),
            }));
        }
        Ok(Registry {
            pool,
            host: HostInfo {
                public_url: public_url.trim_end_matches('/').to_string(),
                version: POSTDESK_VERSION.into(),
            },
            options,
            modules,
        })
    }

    /// A registry with no modules (for tools and tests that do not load any).
    pub fn empty(pool: DbPool) -> Registry {
        Registry {
            pool,
            host: HostInfo::default(),
            options: HookOptions::default(),
            modules: Vec::new(),
        }
    }

    /// Every module found, loaded or not, in name order.
    pub fn statuses(&self) -> Vec<ModuleStatus> {
        self.modules
            .iter()
            .map(|m| {
                let rt = m.runtime();
                ModuleStatus {
                    name: m.name.clone(),
                    version: m
                        .manifest
                        .as_ref()
                        .map(|x| x.version.clone())
                        .unwrap_or_default(),
                    description: m
                        .manifest
                        .as_ref()
                        .map(|x| x.description.clone())
                        .unwrap_or_default(),
                    active: rt.active && m.load_error.is_none(),
                    load_error: m.load_error.clone(),
                    disabled_reason: rt.disabled_reason,
                }
            })
            .collect()
    }

    /// The status of one module.
    pub fn status(&self, name: &str) -> Option<ModuleStatus> {
        self.statuses().into_iter().find(|s| s.name == name)
    }

    /// A loaded module by name.
    pub fn module(&self, name: &str) -> Option<&Arc<LoadedModule>> {
        self.modules
            .iter()
            .find(|m| m.name == name && m.library.is_some())
    }

    /// The loaded, active modules that handle `hook` (an action/filter hook or a slot).
    pub fn handlers(&self, hook: &str) -> Vec<Arc<LoadedModule>> {
        self.modules
            .iter()
            .filter(|m| m.library.is_some() && m.runtime().active)
            .filter(|m| {
                m.manifest
                    .as_ref()
                    .is_some_and(|x| x.hooks.iter().chain(&x.slots).any(|h| h == hook))
            })
            .cloned()
            .collect()
    }

    /// Switches a module on (forgetting its failures) or off, at once and persisted.
    pub fn set_active(&self, name: &str, active: bool) -> Result<(), CallError> {
        let module = self
            .module(name)
            .ok_or_else(|| CallError::Inactive(name.into()))?;
        self.persist(|c| store::set_active(c, name, active, ""));
        let mut rt = module.runtime_mut();
        rt.active = active;
        rt.failures = 0;
        rt.disabled_reason.clear();
        Ok(())
    }

    /// The manifest of any module found, loaded or not (`None` when it was unreadable).
    pub fn manifest(&self, name: &str) -> Option<&Manifest> {
        self.modules
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.manifest.as_ref())
    }

    /// Checks one setting value against the manifest's type without storing it, and
    /// returns it converted to that type; the error is what [`Registry::set_setting`]
    /// would answer.
    pub fn check_setting(&self, name: &str, key: &str, value: &Value) -> Result<Value, String> {
        let module = self
            .module(name)
            .ok_or_else(|| format!("no loaded module {name}"))?;
        let spec = module
            .manifest
            .as_ref()
            .and_then(|m| m.settings.get(key))
            .ok_or_else(|| format!("module {name} has no setting {key}"))?;
        spec.coerce(value)
            .ok_or_else(|| format!("{value} is not a valid {:?} for {key}", spec.kind))
    }

    /// Sets one setting of a module, checked against the manifest's type.
    pub fn set_setting(&self, name: &str, key: &str, value: &Value) -> Result<(), String> {
        let value = self.check_setting(name, key, value)?;
        let module = self
            .module(name)
            .ok_or_else(|| format!("no loaded module {name}"))?;
        let mut admin = self.admin_settings(name);
        admin.insert(key.into(), value.clone());
        let text = Value::Object(admin).to_string();
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        store::set_settings(&mut conn, name, &text).map_err(|e| e.to_string())?;
        module.runtime_mut().settings.insert(key.into(), value);
        Ok(())
    }

    /// The fields of a module's settings form, from its manifest, with current values
    /// (for the admin page, which renders one input per field by its type).
    pub fn settings_form(&self, name: &str) -> Vec<SettingField> {
        let Some(module) = self.module(name) else {
            return Vec::new();
        };
        let current = module.runtime().settings;
        module
            .manifest
            .iter()
            .flat_map(|m| m.settings.iter())
            .map(|(key, spec)| SettingField {
                name: key.clone(),
                kind: spec.kind,
                label: if spec.label.is_empty() {
                    key.clone()
                } else {
                    spec.label.clone()
                },
                help: spec.help.clone(),
                value: current.get(key).cloned().unwrap_or(Value::Null),
            })
            .collect()
    }

    fn admin_settings(&self, name: &str) -> serde_json::Map<String, Value> {
        let Ok(mut conn) = self.pool.get() else {
            return serde_json::Map::new();
        };
        store::find_state(&mut conn, name)
            .ok()
            .flatten()
            .and_then(|s| serde_json::from_str(&s.settings).ok())
            .unwrap_or_default()
    }

    /// Re-reads every module's state from the database, so a change made by another
    /// process (the `postdesk module` command, another server) takes effect here.
    pub fn refresh(&self) -> Result<(), DbError> {
        let mut conn = self.pool.get()?;
        for m in &self.modules {
            let (Some(manifest), true) = (&m.manifest, m.library.is_some()) else {
                continue;
            };
            if let Some(state) = store::find_state(&mut conn, &m.name)? {
                *m.runtime_mut() = runtime_from(&state, manifest);
            }
        }
        Ok(())
    }

    /// Calls one module and returns its answer. Runs on a thread of its own and waits at
    /// most the timeout for its kind; failures are counted (see the module docs).
    pub fn call(
        &self,
        module: &Arc<LoadedModule>,
        kind: CallKind,
        hook: &str,
        payload: Value,
    ) -> Result<HookReply, CallError> {
        self.call_checked(module, kind, hook, payload, Ok)
    }

    /// [`Registry::call`], with `check` turning the reply into what the caller needs; a
    /// reply `check` refuses counts as a failure like a panic or a timeout does, and only
    /// a usable answer resets the count.
    pub fn call_checked<T>(
        &self,
        module: &Arc<LoadedModule>,
        kind: CallKind,
        hook: &str,
        payload: Value,
        check: impl FnOnce(HookReply) -> Result<T, String>,
    ) -> Result<T, CallError> {
        let library = match (&module.library, module.runtime().active) {
            (Some(lib), true) => Arc::clone(lib),
            _ => return Err(CallError::Inactive(module.name.clone())),
        };
        let call = HookCall {
            kind,
            hook: hook.into(),
            payload,
            settings: Value::Object(module.runtime().settings),
            host: self.host.clone(),
        };
        let timeout = if kind == CallKind::Action {
            self.options.action_timeout
        } else {
            self.options.call_timeout
        };
        let outcome = run_with_timeout(
            library,
            services::Services {
                pool: self.pool.clone(),
                module: module.name.clone(),
            },
            &call,
            &module.name,
            timeout,
        );
        match outcome.and_then(check) {
            Ok(reply) => {
                if module.runtime().failures > 0 {
                    module.runtime_mut().failures = 0;
                    self.persist(|c| store::set_failures(c, &module.name, 0));
                }
                Ok(reply)
            }
            Err(message) => {
                self.count_failure(module, hook, &message);
                Err(CallError::Failed {
                    module: module.name.clone(),
                    message,
                })
            }
        }
    }

    /// Counts a failure (a module's answer the host could not use counts too) and
    /// disables the module when there were too many in a row.
    fn count_failure(&self, module: &LoadedModule, hook: &str, message: &str) {
        tracing::warn!(module = %module.name, hook, error = message, "module call failed");
        let (failures, disabled) = {
            let mut rt = module.runtime_mut();
            rt.failures += 1;
            if rt.active && rt.failures >= self.options.max_failures {
                rt.active = false;
                rt.disabled_reason = format!(
                    "disabled after {} failures in a row; the last, in {hook}: {message}",
                    rt.failures
                );
                (rt.failures, Some(rt.disabled_reason.clone()))
            } else {
                (rt.failures, None)
            }
        };
        match disabled {
            Some(reason) => {
                tracing::error!(module = %module.name, reason = %reason, "module disabled");
                self.persist(|c| store::set_active(c, &module.name, false, &reason));
                self.persist(|c| store::set_failures(c, &module.name, failures));
            }
            None => self.persist(|c| store::set_failures(c, &module.name, failures)),
        }
    }

    /// Renders a slot: each active module's fragment for `slot`, sanitized, in module
    /// name order. A module that fails is left out (and counted).
    pub fn render_slot(&self, slot: &str, data: &Value) -> Vec<SlotFragment> {
        let mut out = Vec::new();
        for module in self.handlers(slot) {
            let html =
                self.call_checked(&module, CallKind::Slot, slot, data.clone(), |r| match r {
                    HookReply::Replace {
                        value: Value::String(html),
                    } => Ok(Some(html)),
                    HookReply::Unchanged => Ok(None),
                    other => Err(format!(
                        "a slot answer must be an HTML string, not {other:?}"
                    )),
                });
            if let Ok(Some(html)) = html {
                out.push(SlotFragment {
                    module: module.name.clone(),
                    html: crate::sanitize::clean_module_html(&html, &module.name),
                });
            }
        }
        out
    }

    /// Whether `path` is a route `name` declares public (customers may call it).
    pub fn is_public_route(&self, name: &str, path: &str) -> bool {
        self.module(name)
            .and_then(|m| {
                m.manifest
                    .as_ref()
                    .and_then(|man| man.route_for(path))
                    .map(|r| r.public)
            })
            .unwrap_or(false)
    }

    /// Hands an HTTP request to a module's route. `logged_in` says whether the request
    /// carries a session; non-public routes without one get [`RouteOutcome::LoginRequired`].
    pub fn route(&self, name: &str, request: RouteRequest, logged_in: bool) -> RouteOutcome {
        let Some(module) = self.module(name) else {
            return RouteOutcome::NotFound;
        };
        let Some(spec) = module
            .manifest
            .as_ref()
            .and_then(|m| m.route_for(&request.path))
        else {
            return RouteOutcome::NotFound;
        };
        if !spec.public && !logged_in {
            return RouteOutcome::LoginRequired;
        }
        let payload = serde_json::to_value(&request).unwrap_or_default();
        let answer = self.call_checked(
            module,
            CallKind::Route,
            &request.path,
            payload,
            |r| match r {
                HookReply::Replace { value } => serde_json::from_value::<RouteResponse>(value)
                    .map(Some)
                    .map_err(|e| format!("unreadable route answer: {e}")),
                _ => Ok(None),
            },
        );
        match answer {
            Ok(Some(r)) => RouteOutcome::Response(r),
            Ok(None) | Err(CallError::Inactive(_)) => RouteOutcome::NotFound,
            Err(CallError::Failed { .. }) => RouteOutcome::Failed,
        }
    }

    fn persist(&self, work: impl FnOnce(&mut AnyConnection) -> diesel::QueryResult<()>) {
        let result = self
            .pool
            .get()
            .map_err(DbError::Pool)
            .and_then(|mut c| work(&mut c).map_err(DbError::Query));
        if let Err(e) = result {
            tracing::error!(error = %e, "could not store module state");
        }
    }
}

/// The answer to a module route.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteOutcome {
    /// The module's answer.
    Response(RouteResponse),
    /// No such module or route (or the module is not active).
    NotFound,
    /// The route is not public and no one is logged in.
    LoginRequired,
    /// The module failed.
    Failed,
}

/// One field of a module's settings form.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SettingField {
    /// The setting's name (the form field's name).
    pub name: String,
    /// Its type: which input to render.
    pub kind: postdesk_module_api::manifest::SettingType,
    /// The label.
    pub label: String,
    /// A line of help.
    pub help: String,
    /// The current value (the default until the admin sets one).
    pub value: Value,
}

/// One module's part of a slot, already sanitized.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlotFragment {
    /// Which module.
    pub module: String,
    /// Safe HTML.
    pub html: String,
}

impl LoadedModule {
    fn runtime(&self) -> Runtime {
        self.runtime
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn runtime_mut(&self) -> std::sync::RwLockWriteGuard<'_, Runtime> {
        self.runtime
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the host calls this module now.
    pub fn is_active(&self) -> bool {
        self.library.is_some() && self.runtime().active
    }

    /// Whether the manifest lists `hook`.
    pub fn handles(&self, hook: &str) -> bool {
        self.manifest
            .as_ref()
            .is_some_and(|m| m.hooks.iter().any(|h| h == hook))
    }
}

fn runtime_from(state: &store::ModuleState, manifest: &Manifest) -> Runtime {
    let mut settings = manifest.default_settings();
    let admin: serde_json::Map<String, Value> =
        serde_json::from_str(&state.settings).unwrap_or_default();
    for (k, v) in admin {
        if manifest.settings.contains_key(&k) {
            settings.insert(k, v);
        }
    }
    Runtime {
        active: state.active,
        disabled_reason: state.disabled_reason.clone(),
        failures: state.failures,
        settings,
    }
}

/// Whether `hook` is an action (`<entity>_after_<action>`), delivered from events.
pub fn is_action(hook: &str) -> bool {
    hook.contains("_after_")
}

/// The event-cursor name of a module.
pub fn consumer_name(module: &str) -> String {
    format!("module:{module}")
}

/// Runs one call on a thread of its own and waits at most `timeout`. A module that
/// overruns keeps its thread (a thread cannot be killed) but the caller goes on, and the
/// overrun counts as a failure, so a module that hangs is soon disabled.
fn run_with_timeout(
    library: Arc<Library>,
    services: services::Services,
    call: &HookCall,
    name: &str,
    timeout: Duration,
) -> Result<HookReply, String> {
    let input = serde_json::to_vec(call).map_err(|e| e.to_string())?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("module-{name}"))
        .spawn(move || {
            let out = library.call(&input, &services);
            let _ = tx.send(out);
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let bytes = rx.recv_timeout(timeout).map_err(|e| match e {
        std::sync::mpsc::RecvTimeoutError::Timeout => {
            format!("did not answer within {} ms", timeout.as_millis())
        }
        std::sync::mpsc::RecvTimeoutError::Disconnected => "the call thread died".into(),
    })?;
    match parse_reply(&bytes)? {
        HookReply::Error { message } => Err(message),
        reply => Ok(reply),
    }
}

/// Reads a module's answer; anything that is not a [`HookReply`] is an error.
pub fn parse_reply(bytes: &[u8]) -> Result<HookReply, String> {
    serde_json::from_slice::<HookReply>(bytes).map_err(|e| {
        let start = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
        format!("answered something that is not a reply ({e}): {start:?}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_answers_are_errors_not_panics() {
        assert!(parse_reply(b"not json{").is_err());
        assert!(parse_reply(br#"{"result":"explode"}"#).is_err());
        assert!(parse_reply(&[0xff, 0xfe, 0x00]).is_err());
        assert_eq!(
            parse_reply(br#"{"result":"unchanged"}"#),
            Ok(HookReply::Unchanged)
        );
    }

    #[test]
    fn admin_settings_overlay_defaults_and_unknown_keys_are_dropped() {
        let manifest = Manifest::parse(
            "name = \"x\"\nversion = \"1.0.0\"\nabi_version = 1\nmin_postdesk_version = \"0.1.0\"\n\
             [settings.a]\ntype = \"string\"\ndefault = \"one\"\n\
             [settings.b]\ntype = \"integer\"\ndefault = 2\n",
        )
        .expect("manifest");
        let state = store::ModuleState {
            id: 1,
            name: "x".into(),
            active: false,
            disabled_reason: "why".into(),
            failures: 3,
            settings: r#"{"b": 5, "gone": true}"#.into(),
            updated_at: chrono::NaiveDateTime::default(),
        };
        let rt = runtime_from(&state, &manifest);
        assert_eq!(
            Value::Object(rt.settings),
            serde_json::json!({"a": "one", "b": 5})
        );
        assert!(!rt.active);
        assert_eq!((rt.disabled_reason.as_str(), rt.failures), ("why", 3));
    }

    #[test]
    fn status_lines_say_why() {
        let mut s = ModuleStatus {
            name: "webhooks".into(),
            version: "0.1.0".into(),
            description: String::new(),
            active: true,
            load_error: None,
            disabled_reason: String::new(),
        };
        assert!(s.line().ends_with("active"), "{}", s.line());
        s.active = false;
        s.disabled_reason = "disabled after 3 failures".into();
        assert!(s.line().contains("inactive: disabled after 3 failures"));
        s.load_error = Some("built for module ABI 2".into());
        assert!(s.line().contains("failed to load: built for module ABI 2"));
        assert!(is_action("conversation_after_created"));
        assert!(!is_action("reply_before_enqueue"));
    }
}
