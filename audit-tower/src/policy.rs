//! What is audited, per route: levels in the style of Kubernetes audit policies.

use http::Method;

/// How much of a call is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum AuditLevel {
    /// Not audited at all (health checks, metrics).
    None,
    /// Who, what, when, status and duration; no bodies.
    Metadata,
    /// Metadata and the request body.
    Request,
    /// Metadata and both bodies (the default).
    #[default]
    RequestResponse,
}

impl AuditLevel {
    pub(crate) fn captures_request(self) -> bool {
        self >= AuditLevel::Request
    }

    pub(crate) fn captures_response(self) -> bool {
        self == AuditLevel::RequestResponse
    }
}

/// One rule of an [`AuditPolicy`]: a level for the requests it matches.
///
/// ```
/// use audit_tower::{AuditLevel, Rule};
///
/// let health = Rule::prefix("/health", AuditLevel::None);
/// let uploads = Rule::route("/api/v1/upload", AuditLevel::Metadata).method(http::Method::POST);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    matcher: Matcher,
    methods: Vec<Method>,
    level: AuditLevel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Prefix(String),
    Route(String),
    Any,
}

impl Rule {
    /// Matches paths starting with `prefix` at a segment boundary (`/health` matches
    /// `/health` and `/health/live`, not `/healthy`).
    pub fn prefix(prefix: impl Into<String>, level: AuditLevel) -> Self {
        Self::new(Matcher::Prefix(prefix.into()), level)
    }

    /// Matches requests whose matched route template (axum's `MatchedPath`) is exactly `route`.
    pub fn route(route: impl Into<String>, level: AuditLevel) -> Self {
        Self::new(Matcher::Route(route.into()), level)
    }

    /// Matches every request (combine with [`Rule::method`]).
    pub fn any(level: AuditLevel) -> Self {
        Self::new(Matcher::Any, level)
    }

    /// Restricts the rule to `method` (call again to allow several).
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.methods.push(method);
        self
    }

    fn new(matcher: Matcher, level: AuditLevel) -> Self {
        Rule {
            matcher,
            methods: Vec::new(),
            level,
        }
    }

    fn matches(&self, method: &Method, path: &str, route: Option<&str>) -> bool {
        if !self.methods.is_empty() && !self.methods.contains(method) {
            return false;
        }
        match &self.matcher {
            Matcher::Any => true,
            Matcher::Route(template) => route == Some(template.as_str()),
            Matcher::Prefix(prefix) => {
                let prefix = prefix.trim_end_matches('/');
                path.strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
        }
    }
}

/// Levels by route: the first matching rule wins, then the built-in rules, else the default
/// level.
///
/// The built-in rules set gRPC's standard infrastructure services to [`AuditLevel::None`]:
/// health checks (`/grpc.health.v1.Health/…`) and server reflection
/// (`/grpc.reflection.v1.ServerReflection/…`, `v1alpha`). A rule of yours for the same paths
/// wins; [`AuditPolicy::without_builtin_rules`] drops them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPolicy {
    rules: Vec<Rule>,
    builtin: Vec<Rule>,
    default: AuditLevel,
}

/// The gRPC services that are probes and tooling rather than calls worth an audit entry.
pub const GRPC_INFRASTRUCTURE_SERVICES: &[&str] = &[
    "/grpc.health.v1.Health",
    "/grpc.reflection.v1.ServerReflection",
    "/grpc.reflection.v1alpha.ServerReflection",
];

impl Default for AuditPolicy {
    fn default() -> Self {
        AuditPolicy {
            rules: Vec::new(),
            builtin: GRPC_INFRASTRUCTURE_SERVICES
                .iter()
                .map(|service| Rule::prefix(*service, AuditLevel::None))
                .collect(),
            default: AuditLevel::default(),
        }
    }
}

impl AuditPolicy {
    /// The level of requests no rule matches.
    #[must_use]
    pub fn default_level(mut self, level: AuditLevel) -> Self {
        self.default = level;
        self
    }

    /// Adds a rule after the existing ones.
    #[must_use]
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Drops the built-in rules, so gRPC health checks and reflection are audited like any call.
    #[must_use]
    pub fn without_builtin_rules(mut self) -> Self {
        self.builtin.clear();
        self
    }

    /// The level for a request.
    pub fn level(&self, method: &Method, path: &str, route: Option<&str>) -> AuditLevel {
        self.rules
            .iter()
            .chain(&self.builtin)
            .find(|rule| rule.matches(method, path, route))
            .map_or(self.default, |rule| rule.level)
    }
}

/// Which request headers are copied into the entry's `headers` (sensitive ones redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderPolicy {
    /// No headers.
    None,
    /// Only these (lower-case names).
    Allow(Vec<String>),
    /// Every header.
    All,
}

impl Default for HeaderPolicy {
    /// Content negotiation and origin headers, gRPC's `grpc-encoding` and `grpc-timeout`;
    /// `authorization` and `cookie` are listed so the log shows they were sent, always as
    /// `[REDACTED]`.
    fn default() -> Self {
        HeaderPolicy::Allow(
            [
                "content-type",
                "content-length",
                "accept",
                "host",
                "origin",
                "referer",
                "x-forwarded-for",
                "forwarded",
                "authorization",
                "cookie",
                "grpc-encoding",
                "grpc-timeout",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        )
    }
}

impl HeaderPolicy {
    pub(crate) fn keeps(&self, name: &str) -> bool {
        match self {
            HeaderPolicy::None => false,
            HeaderPolicy::All => true,
            HeaderPolicy::Allow(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let policy = AuditPolicy::default()
            .rule(Rule::prefix("/health", AuditLevel::None))
            .rule(Rule::route("/api/v1/upload", AuditLevel::Metadata).method(Method::POST))
            .rule(Rule::any(AuditLevel::Request).method(Method::GET));
        assert_eq!(
            policy.level(&Method::GET, "/health", None),
            AuditLevel::None
        );
        assert_eq!(
            policy.level(&Method::GET, "/health/live", None),
            AuditLevel::None
        );
        assert_eq!(
            policy.level(&Method::GET, "/healthy", None),
            AuditLevel::Request
        );
        assert_eq!(
            policy.level(&Method::POST, "/api/v1/upload", Some("/api/v1/upload")),
            AuditLevel::Metadata
        );
        assert_eq!(
            policy.level(&Method::PUT, "/api/v1/upload", Some("/api/v1/upload")),
            AuditLevel::RequestResponse
        );
    }

    #[test]
    fn grpc_health_and_reflection_are_not_audited_unless_asked() {
        let health = "/grpc.health.v1.Health/Check";
        let reflection = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
        let policy = AuditPolicy::default();
        assert_eq!(policy.level(&Method::POST, health, None), AuditLevel::None);
        assert_eq!(
            policy.level(&Method::POST, reflection, None),
            AuditLevel::None
        );
        assert_eq!(
            policy.level(&Method::POST, "/helloworld.Greeter/SayHello", None),
            AuditLevel::RequestResponse
        );
        let mine = AuditPolicy::default()
            .rule(Rule::prefix("/grpc.health.v1.Health", AuditLevel::Metadata));
        assert_eq!(
            mine.level(&Method::POST, health, None),
            AuditLevel::Metadata
        );
        let none = AuditPolicy::default().without_builtin_rules();
        assert_eq!(
            none.level(&Method::POST, health, None),
            AuditLevel::RequestResponse
        );
    }
}
