//! Which methods each address takes, from the routes as declared (the OpenAPI document is
//! made from the same registrations), for `405 Allow` and for `HEAD`.

use std::sync::LazyLock;

use actix_web::dev::ResourceDef;

/// Addresses served outside the API's operations (the document and its viewer).
const UNDOCUMENTED_GETS: [&str; 3] = ["/api-docs/openapi.json", "/docs", "/docs/{_:.*}"];

struct Route {
    address: ResourceDef,
    /// How many `{…}` segments its template has.
    variables: usize,
    methods: Vec<&'static str>,
}

static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    let spec = crate::openapi::spec();
    let mut routes: Vec<Route> = spec
        .paths
        .paths
        .iter()
        .map(|(path, item)| {
            let mut methods = Vec::new();
            if item.get.is_some() {
                methods.extend(["GET", "HEAD"]);
            }
            for (method, present) in [
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ] {
                if present {
                    methods.push(method);
                }
            }
            Route {
                address: ResourceDef::new(path.as_str()),
                variables: path.matches('{').count(),
                methods,
            }
        })
        .collect();
    routes.extend(UNDOCUMENTED_GETS.map(|path| Route {
        address: ResourceDef::new(path),
        variables: path.matches('{').count(),
        methods: vec!["GET", "HEAD"],
    }));
    routes
});

/// The methods `path` takes; empty when no route has it.
pub fn allowed(path: &str) -> Vec<&'static str> {
    // Where a literal route and a templated one both match (`/organisations/import` and
    // `/organisations/{code}`), the address is the literal one's.
    let matching: Vec<&Route> = ROUTES
        .iter()
        .filter(|route| route.address.is_match(path))
        .collect();
    let fewest = matching
        .iter()
        .map(|route| route.variables)
        .min()
        .unwrap_or(0);
    let mut methods: Vec<&'static str> = matching
        .iter()
        .filter(|route| route.variables == fewest)
        .flat_map(|route| route.methods.iter().copied())
        .collect();
    let order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
    methods.sort_by_key(|m| order.iter().position(|o| o == m));
    methods.dedup();
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_takes_the_methods_of_every_route_it_matches() {
        assert_eq!(allowed("/healthz"), ["GET", "HEAD"]);
        assert_eq!(
            allowed("/api/v1/organisations/luxian-zrzy"),
            ["GET", "HEAD", "PUT", "DELETE"]
        );
        assert_eq!(allowed("/api/v1/claims/7/reopen"), ["POST"]);
        assert_eq!(allowed("/api/v1/organisations/import"), ["POST"]);
        assert_eq!(allowed("/docs/index.html"), ["GET", "HEAD"]);
        assert!(allowed("/api/v1/nothing-here").is_empty());
    }
}
