#!/usr/bin/env node
import { supervise } from "../dist/src/cli/signals.js";

supervise(process.argv.slice(2));
