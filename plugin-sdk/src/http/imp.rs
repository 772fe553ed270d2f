//! The client of [`super`] on `wasi:http` (the `wasip2` bindings): build
//! the request, send it through the host, wait, read the status, the
//! headers and the whole body.
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
        .set_path_with_query(Some(&url.path_and_query))
        .map_err(|()| bad("bad path"))?;
    let outgoing = request
        .body()
        .map_err(|()| failed("the request body was taken"))?;
    let pending = outgoing_handler::handle(request, None).map_err(error)?;
    let written = body.map_or(Ok(()), |bytes| write_body(&outgoing, bytes));
    let written = match written {
        Ok(()) => OutgoingBody::finish(outgoing, None).map_err(|code| format!("{code:?}")),
        // The other end stopped taking the body: the host refused the
        // request (not granted, over the cap), the server answered before
        // reading it all, or it has every byte of a known length already
        // and let go before the last flush. Dropping the unfinished body
        // settles the request; the response (or its error) says which.
        Err(why) => {
            drop(outgoing);
            Err(why)
        }
    };
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(error(code)),
        _ => {
            return Err(match written {
                Err(why) => failed(&format!("writing the body: {why}")),
                Ok(()) => failed("no response after waiting"),
            });
        }
    };
    let status = response.status();
    // `headers` is a child of `response`: read and drop it right away.
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(&value).into_owned();
            (name.to_ascii_lowercase(), value)
        })
        .collect();
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
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Writes the whole request body; its stream is dropped before the body.
fn write_body(outgoing: &OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    let mut stream = outgoing
        .write()
        .map_err(|()| "the body stream was taken".to_owned())?;
    stream.write_all(bytes).map_err(|e| e.to_string())?;
    stream.flush().map_err(|e| e.to_string())
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
