// page.js: how a page uses client.js, type-checked by web/openapi_test.go (tsc --checkJs): the
// event details carry openapi.yaml's types, and a wrong use does not compile.
import { Bridge } from '../../client.js';

const bridge = new Bridge({ shared: 'tab' });

bridge.addEventListener('chat.message', (e) => {
  /** @type {string} */
  const text = e.detail.data.content;
  /** @type {string} */
  const conversation = e.detail.data.conversation_id;
  console.log(e.detail.id, conversation, text);
});
bridge.addEventListener('message.status', (e) => {
  /** @type {'sent' | 'queued' | 'delivered' | 'failed'} */
  const status = e.detail.data.status;
  console.log(status);
});
bridge.addEventListener('snapshot', (e) => {
  for (const m of e.detail.messages) console.log(m.sender_id, m.content);
  for (const c of e.detail.conversations) console.log(c.conversation_id, c.unread_count);
});
bridge.addEventListener('state', (e) => console.log(e.detail.state, e.detail.retryAt));

bridge.addEventListener('chat.message', (e) => {
  // @ts-expect-error: content is a string
  /** @type {number} */ const n = e.detail.data.content;
  console.log(n);
});
// @ts-expect-error: no such event
bridge.addEventListener('chat.mesage', () => {});

const accepted = await bridge.send('general', 'hello');
/** @type {string} */
const id = accepted.client_message_id;
console.log(id, (await bridge.connection()).state);
