//! Fuzzes request bodies as the parameter extractor reads them: any bytes under an urlencoded
//! or multipart content type (with a boundary taken from the input) give parameters or a
//! clean client error, never a panic or a hang.

#![no_main]

use actix_web::FromRequest;
use actix_web::test::TestRequest;
use cloudsync::api::params::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let content_type = match selector % 3 {
        0 => "application/x-www-form-urlencoded".to_string(),
        1 => "multipart/form-data; boundary=XyZ".to_string(),
        _ => {
            // A boundary chosen by the input, as a hostile client would.
            let boundary: String = body.iter().take(8).map(|b| char::from(b'a' + b % 26)).collect();
            format!("multipart/form-data; boundary={boundary}")
        }
    };
    let (request, mut payload) = TestRequest::post()
        .insert_header(("content-type", content_type))
        .set_payload(body.to_vec())
        .to_http_parts();
    let runtime = actix_web::rt::System::new();
    let outcome = runtime.block_on(Params::from_request(&request, &mut payload));
    if let Err(error) = outcome {
        let status = actix_web::ResponseError::status_code(&error);
        assert!(status.is_client_error(), "a body answered {status}");
    }
});
