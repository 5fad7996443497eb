#!/usr/bin/env python3
"""simd's poker API against the real daemon: a busy tank's hands are well-formed, every
showdown is won by exactly the best hands (checked with an evaluator written here,
independent of the daemon's), the strategy books add up, TankStatus carries the poker
counters, the standard series and a person's game leave the tank alone, bad input gets
JSON errors (limit out of range 400, unknown tank 404), and a kill -9 loses no books."""
import itertools
import os
import time
from collections import Counter

from twlib import Daemon, Tap, base_ports, jerr, tmpdir, wait_until

RANKS = "23456789TJQKA"
SUITS = "cdhs"
CATEGORIES = ["high_card", "pair", "two_pair", "trips", "straight", "flush", "full_house",
              "quads", "straight_flush"]


def rank5(cards):
    """(category, tiebreak ranks) of five cards such as ["As", "Kd", ...]."""
    rs = sorted((RANKS.index(c[0]) for c in cards), reverse=True)
    flush = len({c[1] for c in cards}) == 1
    uniq = sorted(set(rs), reverse=True)
    straight = None
    if len(uniq) == 5 and uniq[0] - uniq[4] == 4:
        straight = uniq[0]
    elif uniq == [12, 3, 2, 1, 0]:
        straight = 3  # the wheel, five high
    counts = Counter(rs)
    groups = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    shape = [n for _, n in groups]
    order = [r for r, _ in groups]
    if straight is not None and flush:
        return (8, [straight])
    if shape == [4, 1]:
        return (7, order)
    if shape == [3, 2]:
        return (6, order)
    if flush:
        return (5, rs)
    if straight is not None:
        return (4, [straight])
    if shape == [3, 1, 1]:
        return (3, order)
    if shape == [2, 2, 1]:
        return (2, order)
    if shape == [2, 1, 1, 1]:
        return (1, order)
    return (0, rs)


def best7(cards):
    return max(rank5(list(c)) for c in itertools.combinations(cards, 5))


def check_hand(h):
    """A list of what is wrong with one hand (empty when it is fine)."""
    bad = []
    players = h["players"]
    ids = [p["fish_id"] for p in players]
    if not 2 <= len(players) <= 6 or len(set(ids)) != len(ids):
        bad.append("players %r" % ids)
    cards = [c for p in players for c in p["hole"]] + h["board"]
    if any(len(c) != 2 or c[0] not in RANKS or c[1] not in SUITS for c in cards) or len(set(cards)) != len(cards):
        bad.append("cards %r" % cards)
    if any(len(p["hole"]) != 2 for p in players) or len(h["board"]) not in (0, 3, 4, 5):
        bad.append("card counts")
    put = Counter()
    for a in h["actions"]:
        if a["fish_id"] not in ids or a["street"] not in ("preflop", "flop", "turn", "river") or \
                a["action"] not in ("small_blind", "big_blind", "fold", "check", "call", "bet", "raise") or \
                a["amount"] < 0:
            bad.append("action %r" % a)
        put[a["fish_id"]] += a["amount"]
    if [a["action"] for a in h["actions"][:2]] != ["small_blind", "big_blind"]:
        bad.append("blinds first")
    if abs(sum(put.values()) - h["pot"]) > 1e-6 * max(1, h["pot"]) or \
            abs(sum(p["won"] for p in players) - h["pot"]) > 1e-6 * max(1, h["pot"]):
        bad.append("pot %r put %r won %r" % (h["pot"], sum(put.values()), [p["won"] for p in players]))
    for p in players:
        if put[p["fish_id"]] > p["stack_before"] + 1e-9:
            bad.append("%s put in more than its stack" % p["fish_id"])
        if p["folded"] and p["won"] > 0:
            bad.append("a folded player won")
    live = [p for p in players if not p["folded"]]
    folded_ids = {a["fish_id"] for a in h["actions"] if a["action"] == "fold"}
    if folded_ids != {p["fish_id"] for p in players if p["folded"]}:
        bad.append("folds do not match")
    if h["showdown"]:
        if len(h["board"]) != 5 or len(live) < 2:
            bad.append("showdown with board %r and %d live" % (h["board"], len(live)))
        else:
            vals = {p["fish_id"]: best7(p["hole"] + h["board"]) for p in live}
            top = max(vals.values())
            if sorted(h["winners"]) != sorted(i for i, v in vals.items() if v == top):
                bad.append("winners %r, best %r" % (h["winners"], vals))
            if h["winning_hand"] != CATEGORIES[top[0]]:
                bad.append("winning_hand %r, want %r" % (h["winning_hand"], CATEGORIES[top[0]]))
    else:
        if len(live) != 1 or h["winners"] != [live[0]["fish_id"]] or h["winning_hand"] is not None:
            bad.append("a hand won by folds: %r" % h["winners"])
    return bad


t = Tap()
root = tmpdir("twpk")
(port,) = base_ports(1)
d = Daemon("simd", os.path.join(root, "a"), "srv-a", port,
           extra={"sim.tick_rate": "300", "sim.snapshot_interval": "0.5"})


try:
    d.start()
    # A small crowded tank: fish touch often, so they play a lot.
    r = d.post("/api/tanks", {"name": "Casino", "seed": 11, "width": 400, "height": 300,
                              "max_fish": 60, "initial_fish": 40})
    t.eq(r.status, 201, "a crowded tank")
    tank = r.json()["tank"]["tank_id"]
    st = lambda: d.get("/api/tanks/%s" % tank).json()["stats"]
    t.ok(wait_until(lambda: st()["poker_hands"] >= 1100, 300), "the fish play over a thousand hands", st())
    s = st()
    t.ok(s["poker_energy_moved"] > 0, "TankStatus counts poker_hands and poker_energy_moved", s)

    r = d.get("/api/tanks/%s/poker?limit=1000" % tank)
    t.eq(r.status, 200, "GET /poker?limit=1000")
    hands = r.json()["hands"]
    t.eq(len(hands), 1000, "the ring keeps the last 1,000 hands")
    frames = [h["frame"] for h in hands]
    t.ok(frames == sorted(frames, reverse=True), "newest first")
    problems = [(h["frame"], check_hand(h)) for h in hands]
    problems = [p for p in problems if p[1]]
    t.ok(not problems, "every hand is well-formed and every showdown won by the best hands", problems[:3])
    showdowns = [h for h in hands if h["showdown"]]
    multi = [h for h in hands if len(h["players"]) > 2]
    plants = [h for h in hands if any(p["kind"] == "plant" for p in h["players"])]
    t.ok(len(showdowns) > 10 and len(showdowns) < len(hands),
         "showdowns (%d) and hands won by folding (%d)" % (len(showdowns), len(hands) - len(showdowns)))
    t.ok(any(a["action"] == "raise" for h in hands for a in h["actions"]), "fish raise")
    print("# %d hands: %d showdowns, %d with 3+ players, %d against plants"
              % (len(hands), len(showdowns), len(multi), len(plants)))
    r = d.get("/api/tanks/%s/poker" % tank)
    t.ok(r.status == 200 and len(r.json()["hands"]) == 50, "50 hands by default")
    someone = hands[0]["players"][0]["fish_id"]
    mine = [h for h in hands if someone in [p["fish_id"] for p in h["players"]]]
    r = d.get("/api/tanks/%s/poker?limit=1000&fish_id=%s" % (tank, someone))
    got = r.json()["hands"]
    t.ok(r.status == 200 and len(got) >= len(mine) > 0 and
         all(someone in [p["fish_id"] for p in h["players"]] for h in got),
         "fish_id= gives one player's hands (%d)" % len(got))
    t.ok(jerr(d.get("/api/tanks/%s/poker?fish_id=nope" % tank), 400), "a bad fish_id is a 400")
    r = d.get("/api/tanks/%s/poker?limit=3" % tank)
    t.ok(r.status == 200 and len(r.json()["hands"]) == 3, "limit=3")

    r = d.get("/api/tanks/%s/poker/strategies" % tank)
    t.eq(r.status, 200, "GET /poker/strategies")
    sj = r.json()
    names = [x["strategy"] for x in sj["strategies"]]
    t.eq(sorted(names), sorted(["tight_aggressive", "loose_aggressive", "tight_passive", "loose_passive",
                                "balanced", "maniac"]), "six strategy families")
    fish_now = d.get("/api/tanks/%s/state" % tank).json()["entities"]
    t.ok(sum(x["fish_count"] for x in sj["strategies"]) > 0 and
         all(len(x["fish"]) == x["fish_count"] and x["hands_won"] <= x["hands_played"] for x in sj["strategies"]),
         "each strategy lists its fish; wins never exceed hands")
    t.ok(sum(x["hands_played"] for x in sj["strategies"]) >= 2 * 300 * 0.5, "hands are booked per strategy")
    t.ok(len(fish_now) > 0, "the tank lives")

    # The standard series, on copies: a paused tank is left exactly as it was.
    t.eq(d.post("/api/tanks/%s/pause" % tank).status, 200, "pause the tank")
    before = d.get("/api/tanks/%s/state" % tank).json()
    hands_before = st()["poker_hands"]
    r = d.post("/api/tanks/%s/poker/series" % tank, {"hands": 3000, "top": 2, "seed": 5})
    t.eq(r.status, 200, "POST /poker/series")
    ser = r.json()
    t.ok(1 <= len(ser["players"]) <= 2 and ser["hands_per_match"] == 3000, "the top two fish play", ser)
    okci = True
    for p in ser["players"]:
        bl = sorted(x["baseline"] for x in p["against"])
        okci &= bl == ["always_call", "random", "tight_aggressive"]
        for x in p["against"]:
            lo, hi = x["win_rate_ci95"]
            elo, ehi = x["energy_per_hand_ci95"]
            okci &= x["won"] + x["lost"] <= x["hands"] == 3000 and lo < x["win_rate"] < hi and \
                0 <= lo and hi <= 1 and elo < x["energy_per_hand"] < ehi
        print("# %s (%s): %s" % (p["fish_id"], p["strategy"], ", ".join(
            "%s %.1f%% [%.1f, %.1f] %+.2f/hand" % (x["baseline"], 100 * x["win_rate"], 100 * x["win_rate_ci95"][0],
                                               100 * x["win_rate_ci95"][1], x["energy_per_hand"])
            for x in p["against"])))
    t.ok(okci, "each plays the three baselines; win rates and energy per hand with 95% intervals")
    r2 = d.post("/api/tanks/%s/poker/series" % tank, {"hands": 3000, "top": 2, "seed": 5})
    t.eq(r2.json()["players"], ser["players"], "the same seed gives the same series")
    r = d.post("/api/tanks/%s/poker/series" % tank)
    t.ok(r.status == 200 and r.json()["hands_per_match"] == 2000, "an empty body takes the defaults")

    # A person plays a whole hand against two fish, on copies of them.
    fish_ids = [e["id"] for e in before["entities"] if e["kind"] == "fish"][:2]
    G = "/api/tanks/%s/poker/games" % tank
    r = d.post(G, {"fish_ids": fish_ids, "seed": 3})
    t.eq(r.status, 201, "POST /poker/games seats a person with two fish")
    g = r.json()
    gid = g["game_id"]
    t.ok(len(g["players"]) == 3 and g["players"][0]["player"] == "you" and len(g["players"][0]["hole"]) == 2
         and all(p["hole"] is None for p in g["players"][1:]) and g["your_chips"] > 0,
         "the person sees its own cards only", g)
    steps = 0
    while not g["hand_over"] and steps < 50:
        t_ok = g["your_turn"]
        opts = g["options"]
        act = {"action": "call"} if opts["to_call"] > 0 else {"action": "check"}
        r = d.post("%s/%s/action" % (G, gid), act)
        if r.status != 200:
            break
        g = r.json()
        steps += 1
    t.ok(g["hand_over"] and steps > 0, "the person calls down a whole hand (%d actions)" % steps, g)
    t.ok(abs(sum(p["won"] for p in g["players"]) - g["pot"]) < 1e-9 and len(g["winners"]) >= 1,
         "the pot is paid to the winners", g)
    if g["showdown"]:
        vals = {p["player"]: best7(p["hole"] + g["board"]) for p in g["players"] if not p["folded"]}
        top = max(vals.values())
        t.ok(sorted(g["winners"]) == sorted(k for k, v in vals.items() if v == top),
             "at the showdown the fish's cards show and the best hands win")
    else:
        t.ok(len([p for p in g["players"] if not p["folded"]]) == 1, "a hand won by folding")
    t.ok(jerr(d.post("%s/%s/action" % (G, gid), {"action": "call"}), 409, "not_your_turn"),
         "acting after the hand is a 409")
    r = d.post("%s/%s/deal" % (G, gid))
    t.ok(r.status == 200 and r.json()["hand_number"] == 2, "deal a new hand", r.json())
    g = r.json()
    # A hand the fish end before the person's turn (all fold to its blind) is over at
    # once: deal again until one waits for the person, so the checks below always run.
    deals = 0
    while r.status == 200 and g["hand_over"] and deals < 20:
        r = d.post("%s/%s/deal" % (G, gid))
        g = r.json()
        deals += 1
    t.ok(g["your_turn"] and not g["hand_over"], "a dealt hand waits for the person (%d more deals)" % deals, g)
    t.ok(jerr(d.post("%s/%s/deal" % (G, gid)), 409, "hand_in_progress"), "no deal in the middle of a hand")
    t.ok(jerr(d.post("%s/%s/action" % (G, gid), {"action": "dance"}), 400, "invalid_action"),
         "an unknown action is a 400")
    t.ok(jerr(d.post("%s/%s/action" % (G, gid), {"action": "raise", "amount": 1e8}), 400),
         "a raise beyond the stack is a 400")
    r = d.post("%s/%s/action" % (G, gid), {"action": "autopilot"})
    t.ok(r.status == 200 and r.json()["hand_over"], "the autopilot finishes the hand", r.json())
    r = d.get("%s/%s" % (G, gid))
    t.ok(r.status == 200 and r.json()["game_id"] == gid and r.json()["expires_in"] > 500, "GET the game")
    time.sleep(1.2)
    r = d.get("%s/%s" % (G, gid))
    t.ok(r.json()["expires_in"] >= 599.5, "a GET keeps the game from expiring too", r.json()["expires_in"])
    for body, what in [({}, "no fish_ids"), ({"fish_ids": []}, "no fish"), ({"fish_ids": [fish_ids[0]] * 2}, "a fish twice"),
                       ({"fish_ids": ["x"]}, "a bad id"), ({"fish_ids": fish_ids, "chips": -1}, "negative chips")]:
        t.ok(jerr(d.post(G, body), 400, "invalid_game"), "games refuse %s" % what)
    r = d.post(G, {"fish_ids": [fish_ids[0], "x"]})
    t.ok(jerr(r, 400) and "fish_ids[1] is not a fish id" in r.json()["error"], "a bad id is named by its place", r)
    r = d.post(G, {"fish_ids": [fish_ids[0], fish_ids[1], fish_ids[0]]})
    t.ok(jerr(r, 400) and "fish_ids[2] is fish_ids[0] again" in r.json()["error"], "and a fish listed twice", r)
    t.ok(jerr(d.post(G, {"fish_ids": ["00000000-0000-4000-8000-000000000000"]}), 404, "unknown_fish"),
         "a fish not in the tank is a 404")
    t.ok(jerr(d.get("%s/00000000-0000-4000-8000-000000000000" % G), 404, "unknown_game"), "unknown game 404")
    t.ok(jerr(d.get("/api/tanks/nope/poker/games/%s" % gid), 404, "unknown_tank"), "a game under another tank 404")
    r = d.req("DELETE", "%s/%s" % (G, gid))
    t.ok(r.status == 200 and jerr(d.get("%s/%s" % (G, gid)), 404), "DELETE ends the game")
    t.eq(d.get("/api/tanks/%s/state" % tank).json(), before, "the series and the games do not touch the tank")
    t.eq(st()["poker_hands"], hands_before, "nor its poker books")
    for body, what in [({"hands": 0}, "hands 0"), ({"hands": 20001}, "hands 20001"), ({"top": 11}, "top 11"),
                       ({"seed": -1}, "negative seed"), ({"hands": "many"}, "hands as a string")]:
        t.ok(jerr(d.post("/api/tanks/%s/poker/series" % tank, body), 400), "series refuses %s" % what)
    t.ok(jerr(d.post("/api/tanks/%s/poker/series" % tank, raw=b"{nope"), 400), "series refuses bad JSON")
    t.ok(jerr(d.post("/api/tanks/nope/poker/series", {}), 404, "unknown_tank"), "series: unknown tank 404")

    for q in ["limit=0", "limit=1001", "limit=-5", "limit=abc", "limit=", "limit=10x"]:
        t.ok(jerr(d.get("/api/tanks/%s/poker?%s" % (tank, q)), 400), "%s is a JSON 400" % q)
    t.ok(jerr(d.get("/api/tanks/nope/poker"), 404, "unknown_tank"), "unknown tank: JSON 404 (hands)")
    t.ok(jerr(d.get("/api/tanks/nope/poker/strategies"), 404, "unknown_tank"),
         "unknown tank: JSON 404 (strategies)")
    t.ok(jerr(d.post("/api/tanks/%s/poker" % tank, {}), 405), "POST /poker is a 405")
    t.ok(d.get("/health").status == 200, "the daemon is still healthy")

    # kill -9 in the middle of a busy poker tank: the restart restores the last snapshot
    # (poker books included) and the fish play on; paused, it restores exactly.
    t.eq(d.post("/api/tanks/%s/resume" % tank).status, 200, "resume the casino")
    time.sleep(1.5)
    d.kill9()
    d.start()
    s1 = st()
    t.ok(s1["poker_hands"] > 1000 and s1["poker_energy_moved"] > 0, "after kill -9 the poker books are back", s1)
    t.ok(wait_until(lambda: st()["poker_hands"] > s1["poker_hands"] + 20, 60), "and the fish play on")
    t.eq(d.post("/api/tanks/%s/pause" % tank).status, 200, "pause")
    time.sleep(2)
    full = lambda: (d.get("/api/tanks/%s/state" % tank).json(), st(),
                    d.get("/api/tanks/%s/poker/strategies" % tank).json())
    before = full()
    d.kill9()
    d.start()
    t.eq(full(), before, "a paused poker tank restores exactly: entities, stats, strategy books")
    t.eq(len(d.get("/api/tanks/%s/poker" % tank).json()["hands"]), 0,
         "the hand history is not state: it starts empty after a restart")
finally:
    d.stop()
t.done()
