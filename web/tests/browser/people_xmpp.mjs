// The web page's side of the XMPP interop (issue 15, point 6; run by xmpp_client_chat.rs
// beside slixmpp_chat.py): Wendy, a guest on her home page, sees the XMPP client's account
// online, gets its message in a conversation and answers it.
import { launch, home, scenario, waitFor, waitPresence, conversationTexts, sendTo, log } from './lib.mjs';

const PEER = process.env.PEER;

await scenario('people-xmpp', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const wendy = await home(browser, 'Wendy');
  await waitFor('the XMPP client to say hello', async () => ((await conversationTexts(wendy, PEER)) || []).length > 0
    || (await wendy.locator(`[data-conversation="${PEER}"]`).count()) > 0, 90000);
  await waitPresence(wendy, PEER, 'available');
  await wendy.click(`[data-conversation="${PEER}"] .conv-head`);
  await waitFor('the message text', async () => ((await conversationTexts(wendy, PEER)) || []).includes('hello from slixmpp'), 20000);
  await sendTo(wendy, PEER, 'hello back');
  log('Wendy got the XMPP client\'s message and answered');
  // Stay until the client has the answer (the Rust side waits for it).
  await wendy.waitForTimeout(3000);
});
