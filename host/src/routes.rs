//! HTTP route matching, following Spin's router.
//!
//! Syntax: an exact path (`/api/health`), a trailing wildcard (`/api/...`, or `/api/*`),
//! and `:name` parameter segments (`/users/:id`). One trailing `/` is ignored.
//! `route = { private = true }` makes a component reachable only by service chaining.
//!
//! When several routes match, segments are compared left to right: a literal segment
//! beats a parameter, which beats the wildcard; a route that matches without its
//! wildcard beats one that needs it. So `/a/b/...` beats `/a/...` (longest prefix), and
//! `/foo/:id` beats `/foo/...`. Between routes of the same shape the first declared
//! wins; an identical route declared twice is replaced by the later one (with a warning),
//! as in Spin.

use std::cmp::Ordering;

/// A parsed route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `{ private = true }`: never matched from outside.
    Private,
    /// A path pattern.
    Path(Pattern),
}

/// A path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    raw: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Param(String),
}

impl Route {
    /// Parses a route string from the manifest.
    pub fn parse(raw: &str) -> Result<Route, String> {
        let mut path = raw.trim();
        if path.is_empty() {
            return Err("route must not be empty (use `/` or `/...`)".into());
        }
        let owned;
        if !path.starts_with('/') {
            owned = format!("/{path}");
            path = &owned;
        }
        let path = path.strip_suffix('/').unwrap_or(path);
        let (body, wildcard) = if path == "/..." || path == "/*" {
            ("", true)
        } else if let Some(b) = path
            .strip_suffix("/...")
            .or_else(|| path.strip_suffix("/*"))
        {
            (b, true)
        } else {
            (path, false)
        };
        let mut segments = Vec::new();
        for seg in body.split('/').filter(|s| !s.is_empty()) {
            if seg == "..." || seg == "*" || seg.starts_with('*') {
                return Err(format!(
                    "invalid route `{raw}`: a wildcard may only be the last segment"
                ));
            }
            if let Some(name) = seg.strip_prefix(':') {
                if name.is_empty() {
                    return Err(format!("invalid route `{raw}`: params must be named"));
                }
                segments.push(Segment::Param(name.to_owned()));
            } else {
                segments.push(Segment::Exact(seg.to_owned()));
            }
        }
        Ok(Route::Path(Pattern {
            raw: raw.to_owned(),
            segments,
            wildcard,
        }))
    }
}

impl Pattern {
    /// The route as written in the manifest.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The normalised route (`spin-matched-route`): leading `/`, one trailing `/` removed.
    pub fn based(&self) -> String {
        let mut s = self.raw.trim().to_owned();
        if !s.starts_with('/') {
            s.insert(0, '/');
        }
        if s.ends_with('/') {
            s.pop();
        }
        s
    }

    /// Matches `path`; returns the parameters and the part the wildcard matched.
    fn matches(&self, path: &str) -> Option<(Vec<(String, String)>, String)> {
        let trimmed = path.trim_start_matches('/');
        let mut rest = trimmed;
        let mut params = Vec::new();
        for seg in &self.segments {
            let rest_trim = rest.trim_start_matches('/');
            let (head, tail) = match rest_trim.find('/') {
                Some(i) => (&rest_trim[..i], &rest_trim[i..]),
                None => (rest_trim, ""),
            };
            if head.is_empty() {
                return None;
            }
            match seg {
                Segment::Exact(e) if e == head => {}
                Segment::Exact(_) => return None,
                Segment::Param(name) => params.push((name.clone(), head.to_owned())),
            }
            rest = tail;
        }
        if self.wildcard {
            let info = if self.segments.is_empty() {
                path.to_owned()
            } else {
                rest.to_owned()
            };
            Some((params, info))
        } else if rest.trim_matches('/').is_empty() {
            Some((params, String::new()))
        } else {
            None
        }
    }

    /// Shape order: literal < param < wildcard, position by position; lower is more specific.
    fn specificity(&self, other: &Pattern) -> Ordering {
        fn rank(p: &Pattern, i: usize) -> Option<u8> {
            match p.segments.get(i) {
                Some(Segment::Exact(_)) => Some(0),
                Some(Segment::Param(_)) => Some(1),
                None if i == p.segments.len() && p.wildcard => Some(2),
                None => None,
            }
        }
        let n = self.segments.len().max(other.segments.len()) + 1;
        for i in 0..n {
            match (rank(self, i), rank(other, i)) {
                (Some(a), Some(b)) if a != b => return a.cmp(&b),
                (Some(_), Some(_)) => continue,
                // The one that ends here matched without needing more: it is more specific.
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (None, None) => return Ordering::Equal,
            }
        }
        Ordering::Equal
    }
}

/// One matched request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// The component that serves it.
    pub component: &'a str,
    /// The route as written (`spin-raw-component-route`).
    pub raw_route: &'a str,
    /// The normalised route (`spin-matched-route`).
    pub based_route: String,
    /// What the trailing wildcard matched (`spin-path-info`); empty for exact routes.
    pub path_info: String,
    /// `:name` parameters, in route order.
    pub params: Vec<(String, String)>,
}

impl RouteMatch<'_> {
    /// `spin-component-route`: the raw route without a trailing `/...`.
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(self.raw_route)
    }
}

/// The app's public routes, in match order.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<(Pattern, String)>,
    private: Vec<String>,
}

impl Router {
    /// Builds the router. Identical routes: the later declaration wins (logged).
    pub fn build(routes: Vec<(Route, String)>) -> Result<Router, String> {
        let mut public: Vec<(Pattern, String)> = Vec::new();
        let mut private = Vec::new();
        for (route, component) in routes {
            match route {
                Route::Private => private.push(component),
                Route::Path(p) => {
                    if p.based().starts_with("/.well-known/spin") {
                        tracing::error!(
                            "route {} of component `{component}` is reserved by Spin and will never be reached",
                            p.raw()
                        );
                    }
                    if let Some(existing) = public.iter_mut().find(|(q, _)| q.based() == p.based())
                    {
                        tracing::warn!(
                            "duplicate route {}: `{}` will never be used (duplicate of `{component}`)",
                            p.raw(),
                            existing.1
                        );
                        *existing = (p, component);
                    } else {
                        public.push((p, component));
                    }
                }
            }
        }
        // Stable sort keeps declaration order among routes of the same shape.
        public.sort_by(|a, b| a.0.specificity(&b.0));
        Ok(Router {
            routes: public,
            private,
        })
    }

    /// The most specific public route matching `path` (without query).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        self.routes.iter().find_map(|(p, component)| {
            p.matches(path).map(|(params, path_info)| RouteMatch {
                component,
                raw_route: p.raw(),
                based_route: p.based(),
                path_info,
                params,
            })
        })
    }

    /// Public routes in match order: (route as written, component).
    pub fn public_routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.routes.iter().map(|(p, c)| (p.raw(), c.as_str()))
    }

    /// Components with a private route.
    pub fn private_components(&self) -> &[String] {
        &self.private
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::build(
            routes
                .iter()
                .map(|(r, c)| {
                    let route = if *r == "private" {
                        Route::Private
                    } else {
                        Route::parse(r).unwrap()
                    };
                    (route, c.to_string())
                })
                .collect(),
        )
        .unwrap()
    }

    fn target(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component.to_owned())
    }

    #[test]
    fn exact_wildcard_and_trailing_slash() {
        let r = router(&[("/foo", "exact"), ("/foo/...", "wild"), ("/", "root")]);
        assert_eq!(target(&r, "/foo").as_deref(), Some("exact"));
        assert_eq!(target(&r, "/foo/").as_deref(), Some("exact"));
        assert_eq!(target(&r, "/foo/x").as_deref(), Some("wild"));
        assert_eq!(target(&r, "/foobar"), None);
        assert_eq!(target(&r, "/").as_deref(), Some("root"));
        assert_eq!(target(&r, "/other"), None);
    }

    #[test]
    fn precedence_follows_spin() {
        let r = router(&[
            ("/...", "catchall"),
            ("/a/...", "a"),
            ("/a/b/...", "ab"),
            ("/foo/:id", "param"),
            ("/foo/bar", "literal"),
            ("/foo/...", "foowild"),
            ("/:x/:y", "twoparams"),
        ]);
        assert_eq!(target(&r, "/a/b/c").as_deref(), Some("ab"));
        assert_eq!(target(&r, "/a/c").as_deref(), Some("a"));
        assert_eq!(target(&r, "/foo/bar").as_deref(), Some("literal"));
        assert_eq!(target(&r, "/foo/7").as_deref(), Some("param"));
        assert_eq!(target(&r, "/foo/7/8").as_deref(), Some("foowild"));
        assert_eq!(target(&r, "/x/y").as_deref(), Some("twoparams"));
        assert_eq!(target(&r, "/zzz").as_deref(), Some("catchall"));
    }

    #[test]
    fn path_info_and_params() {
        let r = router(&[("/test/...", "t"), ("/users/:user_id/posts/:post", "p")]);
        let info = |p: &str| r.route(p).unwrap().path_info;
        assert_eq!(info("/test"), "");
        assert_eq!(info("/test/"), "/");
        assert_eq!(info("/test/hello"), "/hello");
        assert_eq!(info("/test/hello/"), "/hello/");
        let m = r.route("/users/42/posts/7").unwrap();
        assert_eq!(
            m.params,
            [("user_id".into(), "42".into()), ("post".into(), "7".into())]
        );
        assert_eq!(m.path_info, "");
        assert!(r.route("/users//posts/7").is_none());
        let t = r.route("/test/x").unwrap();
        assert_eq!(t.raw_route, "/test/...");
        assert_eq!(t.component_route(), "/test");
        assert_eq!(t.based_route, "/test/...");
    }

    #[test]
    fn private_routes_are_never_matched() {
        let r = router(&[("private", "tasks"), ("/api/...", "gateway")]);
        assert_eq!(target(&r, "/api/tasks").as_deref(), Some("gateway"));
        assert_eq!(target(&r, "/tasks"), None);
        assert_eq!(r.private_components(), ["tasks"]);
    }

    #[test]
    fn duplicates_later_wins_and_same_shape_first_wins() {
        let r = router(&[
            ("/x", "one"),
            ("/x", "two"),
            ("/:a", "first"),
            ("/:b", "second"),
        ]);
        assert_eq!(target(&r, "/x").as_deref(), Some("two"));
        assert_eq!(target(&r, "/y").as_deref(), Some("first"));
    }

    #[test]
    fn invalid_routes() {
        assert!(Route::parse("/a/.../b").is_err());
        assert!(Route::parse("/a/:").is_err());
        assert!(Route::parse("").is_err());
        assert!(Route::parse("/a/*x").is_err());
    }
}
