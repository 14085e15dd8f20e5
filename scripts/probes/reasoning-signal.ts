// Probe: how much does the read-out listen to the reasoning, and does the reward tell a good reasoning from a bad one?
// For U seeded train users of ml-100k, G sampled rollouts each from a backbone, the fused reward (spec §4) of each
// rollout; prints the within-group reward spread and the within-group reward difference between rollouts whose
// closing "Next: …" names one of the target's genres and those that do not (with its standard error).
//   R2EC_DATA_DIR=../shared/data BACKBONE=backbones/ml-100k TEMPERATURE=1 TOPK=50 U=48 node --import tsx scripts/probes/reasoning-signal.ts
// Results: results/recpo-budget/README.md ("The read-out barely listens to the reasoning").
import { initBackend, tf } from '../../lib/model/backend';
import { promptIds, scoringIds, catalogScores, disposeContext } from '../../lib/train/recpo/context';
import { generateText } from '../../lib/model/generate';
import { encodeSequences } from '../../lib/model/readout';
import { fusedReward } from '../../lib/train/rewards';
import { makeRng } from '../../lib/util/rng';
import { meanStd } from '../../lib/eval/stats';
import { makeProbe } from './probe-context';

(async () => {
  await initBackend({ log: false });
  const T = Number(process.env.TEMPERATURE ?? 1), K = Number(process.env.TOPK ?? 50), G = 8, U = Number(process.env.U ?? 48);
  const { ds, rec, open } = await makeProbe(0);
  rec.rollout = { ...rec.rollout, temperature: T, topK: K };
  const ctx = open(process.env.BACKBONE ?? 'backbones/ml-100k');
  const rng = makeRng(7);
  const train = ds.samples.train;
  let hitR = 0, hitN = 0, missR = 0, missN = 0, within = 0, nW = 0;
  const diffs: number[] = [];
  for (let u = 0; u < U; u++) {
    const s = train[rng.int(train.length)];
    const p = promptIds(ctx, s);
    const gen = generateText(ctx.params, ctx.mcfg, ctx.tok, Array.from({ length: G }, () => p), rec.rollout, rng);
    const seqs = gen.texts.map((t) => scoringIds(ctx, p, t));
    const v = tf.tensor2d(encodeSequences(ctx.params, ctx.mcfg, seqs, 'last', 32), [G, ctx.mcfg.dModel]);
    const sc = catalogScores(ctx, v);
    const sv = sc.dataSync() as Float32Array;
    sc.dispose(); v.dispose();
    const N1 = ds.items.length;
    const tg = new Set((ds.items[s.target.item].categories ?? []));
    const rs: number[] = [], hits: boolean[] = [];
    for (let j = 0; j < G; j++) {
      const r = fusedReward(sv.subarray(j * N1, (j + 1) * N1), s.target.item, s.history.map((h) => h.item), rec.reward).reward;
      const m = /Next:\s*([^.]*)/.exec(gen.texts[j]);
      const named = m ? m[1].split(/,| and /).map((x) => x.trim()).filter(Boolean) : [];
      const hit = named.some((g) => tg.has(g));
      rs.push(r); hits.push(hit);
      if (u < Number(process.env.SHOW ?? 2)) console.log(r.toFixed(3), hit ? 'HIT ' : 'miss', JSON.stringify(gen.texts[j]), '| target', [...tg].join(','));
    }
    const mean = rs.reduce((a, b) => a + b, 0) / G;
    within += rs.reduce((a, b) => a + (b - mean) ** 2, 0) / G; nW++;
    // within-group: mean reward of hits − misses, when both occur
    const h = rs.filter((_, j) => hits[j]), mm = rs.filter((_, j) => !hits[j]);
    if (h.length && mm.length) diffs.push(h.reduce((a, b) => a + b, 0) / h.length - mm.reduce((a, b) => a + b, 0) / mm.length);
    rs.forEach((r, j) => (hits[j] ? ((hitR += r), hitN++) : ((missR += r), missN++)));
  }
  const { mean: dm, std } = meanStd(diffs);
  const se = std / Math.sqrt(diffs.length);
  console.log(`T=${T} topK=${K}: within-group std ${Math.sqrt(within / nW).toFixed(4)}; hit share ${(hitN / (hitN + missN)).toFixed(2)}; mean reward hit ${(hitR / hitN).toFixed(4)} miss ${(missR / missN).toFixed(4)}; within-group hit−miss ${dm.toFixed(4)} ± ${se.toFixed(4)} (s.e.) over ${diffs.length} mixed groups`);
  disposeContext(ctx);
  console.log('tensors left', tf.memory().numTensors);
})();
