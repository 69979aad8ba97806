#!/bin/sh
# An untrusted agent that forks without end. Its cgroup's pids.max stops it: fork fails with
# EAGAIN, and the kernel reports the limit hit.
echo "fork-bomb: forking"
bomb() { bomb | bomb & }
bomb
wait
