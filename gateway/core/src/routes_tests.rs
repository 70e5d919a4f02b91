use super::*;

fn table() -> RouteTable {
    RouteTable::parse("/api/tasks=tasks, /api/projects=tasks,/api=api-v1,/api/tasks/admin=admin-ui")
        .unwrap()
}

#[test]
fn longest_prefix_on_a_segment_boundary() {
    let t = table();
    let cases: &[(&str, Result<&str, RouteError>)] = &[
        ("/api/tasks", Ok("tasks")),
        ("/api/tasks/", Ok("tasks")),
        ("/api/tasks/42", Ok("tasks")),
        ("/api/tasks/admin", Ok("admin-ui")),
        ("/api/tasks/admin/x", Ok("admin-ui")),
        ("/api/tasks/adminx", Ok("tasks")),
        ("/api/tasksx", Ok("api-v1")),
        ("/api/projects/1", Ok("tasks")),
        ("/api", Ok("api-v1")),
        ("/apix", Err(RouteError::NotFound)),
        ("/", Err(RouteError::NotFound)),
        ("/API/tasks", Err(RouteError::NotFound)),
    ];
    for (path, want) in cases {
        assert_eq!(t.lookup(path).map(ComponentId::as_str), *want, "{path}");
    }
    let catch_all = RouteTable::parse("/=web,/api=api").unwrap();
    assert_eq!(catch_all.lookup("/anything").unwrap().as_str(), "web");
    assert_eq!(catch_all.lookup("/api/x").unwrap().as_str(), "api");
}

#[test]
fn invalid_config_is_refused_and_denies_everything() {
    use RouteConfigError::*;
    let cases = [
        ("", Empty),
        ("  ", Empty),
        ("/a", Entry(0)),
        ("/a=x,,/b=y", Entry(1)),
        ("a=x", Prefix(0)),
        ("/a/=x", Prefix(0)),
        ("/a//b=x", Prefix(0)),
        ("/a/../b=x", Prefix(0)),
        ("/a?b=x", Prefix(0)),
        ("/a%2f=x", Prefix(0)),
        ("/a b=x", Prefix(0)),
        ("/a=X", Component(0)),
        ("/a=my_comp", Component(0)),
        ("/a=", Component(0)),
        ("/a=x,/a=y", Duplicate(1)),
    ];
    for (config, want) in cases {
        assert_eq!(RouteTable::parse(config), Err(want.clone()), "{config:?}");
        let (table, err) = RouteTable::parse_or_deny(config);
        assert_eq!(err, Some(want));
        assert_eq!(table.lookup("/a"), Err(RouteError::Misconfigured));
    }
    // Control: a valid table from parse_or_deny routes.
    let (table, err) = RouteTable::parse_or_deny("/a=x");
    assert_eq!(
        (table.lookup("/a").map(ComponentId::as_str), err),
        (Ok("x"), None)
    );
}

#[test]
fn dot_segments_and_backslashes_are_refused() {
    for bad in [
        "/api/tasks/../admin",
        "/api/tasks/%2e%2E/x",
        "/api/./tasks",
        "/api/tasks\\x",
        "/api/tasks%5cx",
    ] {
        assert!(
            matches!(authorise_path(bad), Err(RouteError::BadPath)),
            "{bad}"
        );
    }
    for ok in ["/api/tasks/..x", "/api/tasks/a.b", "/api/tasks/.well-known"] {
        assert!(authorise_path(ok).is_ok(), "{ok}");
    }
}

fn authorise_path(path: &str) -> Result<(), RouteError> {
    let target = RequestTarget::parse(path).unwrap();
    check_path(target.path())?;
    table().lookup(target.path()).map(|_| ())
}
