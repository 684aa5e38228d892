package cattail

// Version of this client, sent in the hello as clientVersion.
const Version = "0.1.0"
