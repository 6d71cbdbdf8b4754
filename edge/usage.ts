// `greetwatch node --help` (edge/main.ts runs the command; hub/cli.ts lists it without loading the agent).
export const NODE_USAGE = `usage: greetwatch node --bootstrap <node.yaml> [options]
       greetwatch node --config <store.yaml> (--node <id> ... | --all) [options]
  --bootstrap <file>  the node's bootstrap (greetwatch config node-bootstrap): store, node, broker URL, login;
                      the node runs the config the hub publishes for it and keeps the last one in <data-dir>/<node>/config.json
  --config <file>     run node(s) of a store file with the config written there (demo, simulator)
  --mqtt <url>        broker (default: the bootstrap's mqttUrl, or mqtt://{hub.mqtt.host}:{hub.mqtt.port} from the config)
  --data-dir <dir>    outbox journals (and config.json) go to <dir>/<node>
                      (default <bootstrap dir>/.data/edge, or <config dir>/<hub.dataDir>/edge)
  --logins <dir>      with --config: each node logs in with <dir>/<node>.bootstrap.yaml (config node-bootstrap)
  --fw <version>      firmware version in the online status (default greetwatch-edge@<package version>)
  --log-level <lvl>   pino level (default info, or $LOG_LEVEL)`;
