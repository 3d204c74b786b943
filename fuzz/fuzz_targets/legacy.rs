//! Arbitrary bytes into the server's legacy envelope readers (go-micro's json-rpc and
//! proto-rpc): the first byte picks the codec, odd for json-rpc; the rest is the body.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    micro_runtime::fuzzing::legacy_request(pick & 1 == 1, body);
});
