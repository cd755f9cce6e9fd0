// The side panel's chat and files. Filled in against filestore's protocol
// (filestore/README.md); until then the panel says the service is not there.

export class ChatPanel {
  constructor({ config, conference, root }) {
    this.config = config;
    this.conference = conference;
    this.root = root;
  }
}
