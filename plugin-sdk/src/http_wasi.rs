//! The client of [`super`] on `wasi:http` (the `wasip2` bindings): build
//! the request, send it through the host, wait, read the whole body.
//! Resources are dropped in the order the interface requires (a body's
//! stream before the body).

use super::{HttpError, Response, Url};
use std::io::{Read, Write};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

pub fn send(
    method: &str,
    url: &Url<'_>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    let bad = |what: &str| HttpError::BadUrl(what.to_owned());
    let mut list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    // A known length, so servers that refuse chunked uploads take the body.
    if let Some(bytes) = body
        && !list.iter().any(|(k, _)| k == "content-length")
    {
        list.push((
            "content-length".into(),
            bytes.len().to_string().into_bytes(),
        ));
    }
    let fields = Fields::from_list(&list)
        .map_err(|e| HttpError::BadUrl(format!("a header is not allowed: {e:?}")))?;
    let request = OutgoingRequest::new(fields);
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_owned()),
    };
    request
        .set_method(&method)
        .map_err(|()| bad("bad method"))?;
    let scheme = if url.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| bad("bad scheme"))?;
    request
        .set_authority(Some(url.authority))
        .map_err(|()| bad("bad host or port"))?;
    request
        .set_path_with_query(Some(url.path_and_query))
        .map_err(|()| bad("bad path"))?;
    let outgoing = request
        .body()
        .map_err(|()| failed("the request body was taken"))?;
    let pending = outgoing_handler::handle(request, None).map_err(error)?;
    if let Some(bytes) = body {
        let mut stream = outgoing
            .write()
            .map_err(|()| failed("the body stream was taken"))?;
        stream
            .write_all(bytes)
            .map_err(|e| failed(&e.to_string()))?;
        stream.flush().map_err(|e| failed(&e.to_string()))?;
    }
    OutgoingBody::finish(outgoing, None).map_err(error)?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or_else(|| failed("no response after waiting"))?
        .map_err(|()| failed("the response was taken"))?
        .map_err(error)?;
    let status = response.status();
    let incoming = response
        .consume()
        .map_err(|()| failed("no response body"))?;
    let mut body = Vec::new();
    {
        let mut stream = incoming
            .stream()
            .map_err(|()| failed("the body stream was taken"))?;
        stream.read_to_end(&mut body).map_err(|e| {
            failed(&format!(
                "reading the body: {e} (over the host's size cap, or cut)"
            ))
        })?;
    }
    Ok(Response { status, body })
}

fn failed(why: &str) -> HttpError {
    HttpError::Failed(why.to_owned())
}

fn error(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied(
            "the URL is not granted by [capabilities] http, or the run sent http_max_requests already (see the task log)"
                .to_owned(),
        ),
        other => HttpError::Failed(format!("{other:?}")),
    }
}
