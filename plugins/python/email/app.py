"""`email-py`: the Rust `email` plugin in Python. Validates a message, then
POSTs it to the mail API named by `[config] mail_api` with the token of
`[secrets] mail_token` (rules in mail.py, manifest in email-py.toml). Built
with componentize-py against the `http-handler` world by plugins/build.sh."""

import mail
import wasmq_plugin
from wasmq_plugin import Output, TaskError, config, http, log, progress


def send(task) -> Output:
    message = mail.prepare(task)
    api, token = mail.settings(config.get("mail_api"), config.get("mail_token"))
    progress(50, "sending")
    headers, body = mail.request(message, token)
    try:
        try:
            response = http.send("POST", api, headers, body)
        except http.HttpError as e:
            raise mail.transport_error(e, api, http.origin(api)) from None
        receipt = mail.verdict(response, message.retry_after_ms, token)
    except TaskError as e:
        # Whatever the host or the API said, the token goes no further than here.
        raise mail.redact(e, token) from None
    log.info(mail.sent_line(message, receipt))
    return Output.json({"sent": True, "to": message.to, "message_id": message.message_id,
                        "provider_id": receipt.provider_id})


Handler = wasmq_plugin.handler(send)
