//! Name conversions shared by the endpoint names and the generated Rust items.

/// protoc-gen-go's `GoCamelCase`: the name Go code (and so go-micro's router) uses for a
/// proto identifier.
///
/// Existing capitals are kept (`HTTPService` stays `HTTPService`), a lowercase letter after
/// `_` is capitalised and the `_` dropped (`get_item` → `GetItem`), a leading `_` becomes
/// `X`, digits are kept. Endpoint names are built from this on both the client and the
/// server side, so a micro client reaches the method a Go server registered.
pub fn go_camel_case(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len() + 1);
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase) => {}
            b'.' => out.push('_'),
            b'_' if i == 0 || bytes[i - 1] == b'.' => out.push('X'),
            b'_' if bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase) => {}
            b'0'..=b'9' => out.push(char::from(c)),
            _ => {
                out.push(char::from(c.to_ascii_uppercase()));
                // The lowercase run that follows belongs to the same word.
                while bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase) {
                    i += 1;
                    out.push(char::from(bytes[i]));
                }
            }
        }
        i += 1;
    }
    out
}

/// `SCREAMING_SNAKE_CASE` for the descriptor static: `Greeter` → `GREETER`,
/// `HTTPService` → `HTTP_SERVICE`.
pub fn screaming_snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '.' {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 && !out.ends_with('_') {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            // A word starts at "aB" and at the last capital of an acronym ("HTTPServer").
            if prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.extend(c.to_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_camel_case_matches_protoc_gen_go() {
        assert_eq!(go_camel_case("Hello"), "Hello");
        assert_eq!(go_camel_case("get_item"), "GetItem");
        assert_eq!(go_camel_case("list_items"), "ListItems");
        assert_eq!(go_camel_case("HTTPService"), "HTTPService");
        assert_eq!(go_camel_case("_private"), "XPrivate");
        assert_eq!(go_camel_case("say_hello2_you"), "SayHello2You");
        assert_eq!(go_camel_case("a_1"), "A_1");
        assert_eq!(go_camel_case("lower"), "Lower");
        assert_eq!(go_camel_case("SayHello"), "SayHello");
        assert_eq!(go_camel_case("say_hello"), "SayHello");
    }

    #[test]
    fn screaming_snake_case_splits_words_and_acronyms() {
        assert_eq!(screaming_snake_case("Greeter"), "GREETER");
        assert_eq!(screaming_snake_case("HTTPService"), "HTTP_SERVICE");
        assert_eq!(screaming_snake_case("myService2"), "MY_SERVICE2");
        assert_eq!(screaming_snake_case("snake_case"), "SNAKE_CASE");
    }
}
