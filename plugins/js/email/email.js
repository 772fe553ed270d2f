// `email-js`: the Rust `email` plugin in JavaScript. Validates a message,
// then POSTs it to the mail API named by `[config] mail_api`, with the
// token of `[secrets] mail_token` (see mail.js for the rules and
// email-js.toml for the manifest). Built with componentize-js against the
// `http-handler` world by plugins/build.sh.

import { handler, log, progress, Output } from '../../../plugin-sdk-js/index.js';
import { config } from '../../../plugin-sdk-js/config.js';
import { http, HttpError, origin } from '../../../plugin-sdk-js/http.js';
import { TaskError } from '../../../plugin-sdk-js/types.js';
import { prepare, settings, request, verdict, transportError, redact, sentLine } from './mail.js';

async function send(task) {
  const message = prepare(task);
  const { api, token } = settings(config.get('mail_api'), config.get('mail_token'));
  progress(50, 'sending');
  const { headers, body } = request(message, token);
  let receipt;
  try {
    let response;
    try {
      response = await http.send('POST', api, headers, body);
    } catch (e) {
      if (e instanceof HttpError) throw transportError(e, api, origin(api));
      throw e;
    }
    receipt = verdict(response, message.retryAfterMs, token);
  } catch (e) {
    // Whatever the host or the API said, the token goes no further than here.
    throw e instanceof TaskError ? redact(e, token) : e;
  }
  log.info(sentLine(message, receipt));
  return Output.json({
    sent: true,
    to: message.to,
    message_id: message.messageId,
    provider_id: receipt.providerId ?? null,
  });
}

export const handler_ = handler(send);
export { handler_ as handler };
