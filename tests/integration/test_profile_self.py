"""Integration: the agent leaves itself out of what it samples, unless
--profile-self.

    test_profile_self.py SMOLDER

Twice, the whole-system agent at RATE Hz for two intervals of INTERVAL
(its own start-up, the parsing of every sampled file by its parser worker
and the closing of intervals are its busiest moments, within them):
  - by default no profile is of the agent's service (its executable's
    name, which its worker shares), and the output keeps the contract
    (its samples are counted as filtered, not taken);
  - with --profile-self the agent's service has samples, and some of them
    are in the agent's own code (agent_run, or the worker's
    sym_worker_main), so that what is left out by default is the agent
    indeed.
"""

import os
import sys

import smolder_harness as h
import system_run as sr

RATE = 997
INTERVAL = "3s"
OWN_FUNCTIONS = {"agent_run", "sym_worker_main"}


def profile(smolder, extra_args):
    with sr.SystemAgent(smolder, upload_interval=INTERVAL, sample_rate=RATE,
                        extra_args=extra_args) as agent:
        agent.start()
        agent.next_interval()
        agent.next_interval()
        r = agent.stop()
    sr.check_output(r, RATE)
    return r


def test(smolder):
    service = os.path.basename(smolder)

    r = profile(smolder, [])
    h.log("default: services %s" % h.services(r))
    if service in h.services(r):
        h.fail("the agent profiled itself without --profile-self: %d samples of service %s"
               % (h.count(r.samples(service)), service))

    r = profile(smolder, ["--profile-self"])
    own = r.samples(service)
    in_own_code = sum(s.count for s in own if OWN_FUNCTIONS & set(s.names))
    h.log("--profile-self: %d samples of service %s, %d in %s"
          % (h.count(own), service, in_own_code, sorted(OWN_FUNCTIONS)))
    if h.count(own) == 0:
        h.fail("--profile-self: no samples of the agent's service %s (services: %s)"
               % (service, h.services(r)))
    if in_own_code == 0:
        h.fail("--profile-self: no sample of service %s is in the agent's own code" % service)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: %s SMOLDER" % sys.argv[0])
    h.run_test(test, sys.argv[1:])
