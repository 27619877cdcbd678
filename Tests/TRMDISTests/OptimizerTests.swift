import Testing
import TRMDIS

/// Optimisers against updates computed by hand (the expected numbers come from the formulas of
/// docs/model.md: TRM-ACT evaluated in float64 outside this code base).
@Suite struct OptimizerTests {
    /// p = 1, gradients 0.5, −0.2, 0; lr 0.1, λ 0.1, β = (0.9, 0.95).
    /// Step 1: p = 0.99 − (0.1/0.1)·atan2(0.05, √0.0125/√0.05) = 0.99 − atan2(0.05, 0.5) = 0.890331348.
    @Test func adamATan2MatchesHandComputedUpdates() throws {
        let opt = try AdamATan2(count: 2, beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
        var p: [Float] = [1, -2]
        let expected: [[Double]] = [[0.8903313475088379, -1.98], [0.8465993043230234, -1.9602], [0.8108723199623669, -1.940598]]
        for (step, g) in [[Float(0.5), 0], [-0.2, 0], [0, 0]].enumerated() {
            opt.update(params: &p, grads: g, lr: 0.1)
            #expect(abs(Double(p[0]) - expected[step][0]) < 1e-6, "step \(step + 1): \(p[0])")
            // A zero gradient only decays (atan2(0, 0) = 0: no epsilon, no NaN).
            #expect(abs(Double(p[1]) - expected[step][1]) < 1e-6)
        }
        #expect(opt.step == 3)
    }

    @Test func adamWMatchesHandComputedUpdates() throws {
        let opt = try AdamW(count: 1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
        var p: [Float] = [1]
        let expected = [0.890000002, 0.8462203447673705, 0.810447446888367]
        for (step, g) in [Float(0.5), -0.2, 0].enumerated() {
            opt.update(params: &p, grads: [g], lr: 0.1)
            #expect(abs(Double(p[0]) - expected[step]) < 1e-6, "step \(step + 1): \(p[0])")
        }
    }

    /// Rows sharing an id are summed before the sign; rows not in the batch stay exactly as they were.
    @Test func sparseSignSGDTouchesOnlyBatchRows() throws {
        let opt = try SparseSignSGD(width: 2, maxRows: 3, weightDecay: 0.5)
        var table: [Float] = [1, 1, 2, 2, 3, 3]
        let ids: [Int32] = [2, 0, 2]
        let grads: [Float] = [0.3, -0.1, -1, 0, -0.5, 0.4]
        opt.update(table: &table, ids: ids, grads: grads, count: 3, lr: 0.1)
        // Row 2: Σ grad = (−0.2, 0.3) → 3·(1 − 0.05) − 0.1·(−1, +1) = (2.95, 2.75).
        // Row 0: grad (−1, 0) → 1·0.95 + 0.1 = 1.05, and 0.95 (sign 0).
        #expect(abs(table[4] - 2.95) < 1e-6 && abs(table[5] - 2.75) < 1e-6)
        #expect(abs(table[0] - 1.05) < 1e-6 && abs(table[1] - 0.95) < 1e-6)
        #expect(table[2] == 2 && table[3] == 2)
    }

    @Test func scheduleWarmsUpThenHoldsOrDecays() throws {
        let constant = LearningRateSchedule(base: 1e-4, warmupSteps: 2000, totalSteps: 10_000, minRatio: 1)
        #expect(constant.rate(at: 1) == 1e-4 / 2000)   // the first update uses lr/2000 (docs/model.md: TRM-ACT)
        #expect(constant.rate(at: 1000) == 5e-5)
        #expect(constant.rate(at: 2000) == 1e-4 && constant.rate(at: 9000) == 1e-4)
        let cosine = LearningRateSchedule(base: 1, warmupSteps: 10, totalSteps: 110, minRatio: 0.1)
        #expect(abs(cosine.rate(at: 60) - 0.55) < 1e-6)  // halfway: 0.1 + 0.9·0.5
        #expect(abs(cosine.rate(at: 110) - 0.1) < 1e-6)
    }

    @Test func emaAndClipping() throws {
        var w: [Float] = [1, 2]
        let ema = try EMA(weights: w, count: 2, rate: 0.9)
        w = [2, 0]
        ema.update(w)
        #expect(abs(ema.shadow[0] - 1.1) < 1e-6 && abs(ema.shadow[1] - 1.8) < 1e-6)
        var g: [Float] = [3, 4]
        let norm = clipGradientNorm(&g, count: 2, maxNorm: 1)
        #expect(norm == 5 && abs(g[0] - 0.6) < 1e-6 && abs(g[1] - 0.8) < 1e-6)
    }
}
