//! The thin I/O of the routers: finds which API version of each kind the cluster serves,
//! reads the objects a router's [`Shape`](super::Shape) asks for, and writes what it decided
//! — creates and replaces under the field manager `tidegate-rollout`, a replace carrying the
//! resourceVersion it was read at, so a change made meanwhile fails the write rather than
//! being overwritten.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::GroupVersionKind;
use kube::{Api, Client};
use serde_json::Value;

use super::{Context, Kind, Lookup, Notice, Objects, Read, Shape, Target, Write, shape};
use crate::k8s::crd::Rollout;
use crate::k8s::{self, ROLLOUT_FIELD_MANAGER};
use crate::model::{CanaryPlan, RouterReading, TrafficIntent, TrafficPlan};

/// How long a finding of which versions the cluster serves is trusted.
const SERVED_TTL: Duration = Duration::from_secs(30);

/// Reading or writing a router's objects failed.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// No API version of a kind the router needs is served (its CRDs are not installed).
    #[error("the cluster serves no {kind} ({apis}): are its CRDs installed?")]
    NotServed {
        /// The kind.
        kind: &'static str,
        /// The versions looked for.
        apis: String,
    },
    /// Finding out which versions are served failed.
    #[error("discover API {api}")]
    Discover {
        /// The `group/version`.
        api: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Reading an object failed.
    #[error("read {object}")]
    Read {
        /// The object.
        object: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The objects cannot carry the split (the router's own words).
    #[error("{router} router: {message}")]
    Shape {
        /// The router.
        router: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Writing an object failed.
    #[error("{action} {object}")]
    Write {
        /// `create`, `replace` or `delete`.
        action: &'static str,
        /// The object.
        object: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// An object came back from the API in a form that is not JSON (never expected).
    #[error("encode {object}: {message}")]
    Encode {
        /// The object.
        object: String,
        /// Why.
        message: String,
    },
}

impl TrafficError {
    /// Whether trying again soon may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            // CRDs get installed; objects get fixed in Git: look again, not too often.
            Self::NotServed { .. } | Self::Shape { .. } | Self::Encode { .. } => false,
            Self::Discover { source, .. }
            | Self::Read { source, .. }
            | Self::Write { source, .. } => k8s::is_transient(source) || k8s::is_conflict(source),
        }
    }
}

/// The routers' context for a Rollout read from the API, and its traffic plan; `None` for a
/// Rollout without routers.
#[must_use]
pub fn context<'a>(
    rollout: &Rollout,
    canary: &'a CanaryPlan,
) -> Option<(&'a TrafficPlan, Context)> {
    use kube::{Resource, ResourceExt};

    let traffic = canary.traffic.as_ref()?;
    let owner = rollout
        .controller_owner_ref(&())
        .and_then(|owner| serde_json::to_value(owner).ok())
        .unwrap_or(Value::Null);
    let context = Context {
        namespace: rollout.namespace().unwrap_or_default(),
        rollout: rollout.name_any(),
        canary_service: canary.canary_service.clone().unwrap_or_default(),
        stable_service: canary.stable_service.clone().unwrap_or_default(),
        managed_routes: traffic.managed_routes.clone(),
        max_weight: traffic.max_weight,
        owner,
        ping_pong: traffic.ping_pong.as_ref().map(|ping_pong| {
            let stable = rollout
                .status
                .as_ref()
                .and_then(|status| status.to_state().stable_ping_pong);
            let (stable, canary) = ping_pong.roles(stable);
            (stable.to_owned(), canary.to_owned())
        }),
    };
    Some((traffic, context))
}

/// Which `group/version`s are served, as last found out, and when.
static SERVED: Mutex<Option<HashMap<String, (Instant, bool)>>> = Mutex::new(None);

async fn served(client: &Client, api: &str) -> Result<bool, TrafficError> {
    if let Some((at, served)) = SERVED
        .lock()
        .expect("the served-versions lock is never poisoned")
        .get_or_insert_with(HashMap::new)
        .get(api)
        && at.elapsed() < SERVED_TTL
    {
        return Ok(*served);
    }
    let found = if api.contains('/') {
        client.list_api_group_resources(api).await
    } else {
        client.list_core_api_resources(api).await
    };
    let served = match found {
        Ok(_) => true,
        Err(kube::Error::Api(status)) if status.code == 404 => false,
        Err(source) => {
            return Err(TrafficError::Discover {
                api: api.to_owned(),
                source,
            });
        }
    };
    SERVED
        .lock()
        .expect("the served-versions lock is never poisoned")
        .get_or_insert_with(HashMap::new)
        .insert(api.to_owned(), (Instant::now(), served));
    Ok(served)
}

/// The first of the kind's versions the cluster serves.
async fn resolve(client: &Client, kind: Kind) -> Result<&'static str, TrafficError> {
    for api in kind.apis {
        if served(client, api).await? {
            return Ok(api);
        }
    }
    Err(TrafficError::NotServed {
        kind: kind.kind,
        apis: kind.apis.join(", "),
    })
}

fn resource(api_version: &str, kind: Kind) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind.kind),
        kind.plural,
    )
}

fn to_value(object: &DynamicObject, target: &Target) -> Result<Value, TrafficError> {
    serde_json::to_value(object).map_err(|error| TrafficError::Encode {
        object: target.describe(),
        message: error.to_string(),
    })
}

/// Reads what `shape` looks up, and what those objects name in turn.
async fn read_objects(
    client: &Client,
    shape: &(dyn Shape + Send + Sync + '_),
    context: &Context,
) -> Result<Objects, TrafficError> {
    let mut read: Objects = Vec::new();
    let mut lookups = shape.lookups(context);
    // Each round may name more objects (App Mesh: service → router); three is plenty.
    for _ in 0..3 {
        if lookups.is_empty() {
            break;
        }
        for lookup in lookups {
            read.extend(fetch(client, lookup).await?);
        }
        lookups = shape.follow(context, &read);
    }
    Ok(read)
}

async fn fetch(client: &Client, lookup: Lookup) -> Result<Objects, TrafficError> {
    match lookup {
        Lookup::Named(target) => {
            let api_version = resolve(client, target.kind).await?;
            let api: Api<DynamicObject> = Api::namespaced_with(
                client.clone(),
                &target.namespace,
                &resource(api_version, target.kind),
            );
            let live = api
                .get_opt(&target.name)
                .await
                .map_err(|source| TrafficError::Read {
                    object: target.describe(),
                    source,
                })?;
            let live = live.map(|object| to_value(&object, &target)).transpose()?;
            Ok(vec![Read {
                target,
                api_version,
                live,
            }])
        }
        Lookup::Selected {
            kind,
            namespace,
            selector,
        } => {
            let api_version = resolve(client, kind).await?;
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), &namespace, &resource(api_version, kind));
            let listed = api
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|source| TrafficError::Read {
                    object: format!("{} {namespace}/ with labels {selector}", kind.kind),
                    source,
                })?;
            let mut found = Vec::new();
            for object in listed.items {
                let name = object.metadata.name.clone().unwrap_or_default();
                let target = Target {
                    kind,
                    namespace: namespace.clone(),
                    name,
                };
                let mut value = to_value(&object, &target)?;
                // A list leaves out each item's apiVersion and kind.
                value["apiVersion"] = Value::String(api_version.to_owned());
                value["kind"] = Value::String(kind.kind.to_owned());
                found.push(Read {
                    target,
                    api_version,
                    live: Some(value),
                });
            }
            Ok(found)
        }
    }
}

/// What every router of `traffic` carries, as read now. A router whose objects cannot be read
/// reports why, as its reading.
pub async fn read(client: &Client, traffic: &TrafficPlan, context: &Context) -> Vec<RouterReading> {
    let mut readings = Vec::new();
    for router in &traffic.routers {
        let shape = shape(router);
        let context = &context.for_router(router);
        match read_objects(client, shape.as_ref(), context).await {
            Ok(read) => {
                let found = shape.readings(context, &read);
                if found.is_empty() {
                    readings.push(RouterReading {
                        object: format!("{} router", router.kind()),
                        state: Err("found no object to route with".to_owned()),
                    });
                }
                readings.extend(found);
            }
            Err(error) => readings.push(RouterReading {
                object: format!("{} router", router.kind()),
                state: Err(k8s::describe_error(&error)),
            }),
        }
    }
    readings
}

/// What a Rollout's traffic routers carry (nothing for a Rollout without routers).
pub async fn read_rollout(
    client: &Client,
    rollout: &Rollout,
    plan: &crate::model::RolloutPlan,
) -> Vec<RouterReading> {
    let crate::model::Strategy::Canary(canary) = &plan.strategy else {
        return Vec::new();
    };
    match context(rollout, canary) {
        Some((traffic, context)) => read(client, traffic, &context).await,
        None => Vec::new(),
    }
}

/// A router write to announce: Argo's Normal Event for it, and the key naming the occurrence
/// (the object and the resourceVersion the write produced: each write is announced, once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// The Event.
    pub notice: Notice,
    /// Names the occurrence.
    pub key: String,
}

/// Makes every router of `traffic` carry `intent`: reads its objects afresh, and writes what
/// its shape decides, router after router, stopping at the first failure. Each write done is
/// added to `announced` with the Notices its router gives it, each message once per call.
pub async fn apply(
    client: &Client,
    traffic: &TrafficPlan,
    context: &Context,
    intent: &TrafficIntent,
    announced: &mut Vec<Announcement>,
) -> Result<(), TrafficError> {
    for router in &traffic.routers {
        let shape = shape(router);
        let context = &context.for_router(router);
        let intent = &intent.for_router(router);
        let read = read_objects(client, shape.as_ref(), context).await?;
        let writes =
            shape
                .writes(context, &read, intent)
                .map_err(|message| TrafficError::Shape {
                    router: router.kind(),
                    message,
                })?;
        for write in writes {
            let previous = super::previous_intent(&read, write.target());
            let notices = shape.notices(&write, previous.as_ref(), intent);
            let object = write.target().describe();
            let version = send(client, &read, write).await?;
            for notice in notices {
                if announced.iter().any(|done| done.notice == notice) {
                    continue;
                }
                let key = format!(
                    "{object}\n{}\n{}",
                    notice.reason,
                    version
                        .clone()
                        .unwrap_or_else(|| jiff::Timestamp::now().to_string())
                );
                announced.push(Announcement { notice, key });
            }
        }
    }
    Ok(())
}

/// Sends `write`; returns the resourceVersion it produced (none for a delete, which is
/// announced by its time instead).
async fn send(
    client: &Client,
    read: &Objects,
    write: Write,
) -> Result<Option<String>, TrafficError> {
    let target = write.target().clone();
    let api_version = read
        .iter()
        .find(|read| read.target == target)
        .map_or(Ok(target.kind.apis[0]), |read| {
            Ok::<_, TrafficError>(read.api_version)
        })?;
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &target.namespace,
        &resource(api_version, target.kind),
    );
    let params = PostParams {
        field_manager: Some(ROLLOUT_FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    let failed = |action: &'static str| {
        let object = target.describe();
        move |source| TrafficError::Write {
            action,
            object,
            source,
        }
    };
    let decode = |value: Value| {
        serde_json::from_value::<DynamicObject>(value).map_err(|error| TrafficError::Encode {
            object: target.describe(),
            message: error.to_string(),
        })
    };
    match write {
        Write::Create(_, object) => {
            let created = api
                .create(&params, &decode(object)?)
                .await
                .map_err(failed("create"))?;
            Ok(created.metadata.resource_version)
        }
        Write::Replace(_, object) => {
            let replaced = api
                .replace(&target.name, &params, &decode(object)?)
                .await
                .map_err(failed("replace"))?;
            Ok(replaced.metadata.resource_version)
        }
        Write::Delete(_) => match api.delete(&target.name, &DeleteParams::default()).await {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(source) => Err(failed("delete")(source)),
        },
    }
}
