import Testing
@testable import TRMDIS
@testable import TRMDISTasks

/// The solution checkers behind `evaluate`'s valid-solution accuracy accept every generated label and
/// reject a label with one cell changed.
@Suite struct EvaluationTests {
    @Test(arguments: [TaskKind.nqueens(size: 6), .sudoku(boxRows: 2, boxCols: 3), .maze(size: 9)])
    func checkersAcceptLabelsAndRejectCorruptions(task: TaskKind) throws {
        let d = try buildDataset(task: task, trainCount: 0, testCount: 20, seed: 3)
        let check = try #require(solutionChecker(for: task))
        for i in 0..<d.test.exampleCount {
            let input = Array(d.test.input(i)), label = Array(d.test.label(i))
            #expect(check(input, label))
            var wrong = label
            let cell = label.firstIndex { $0 != input[label.firstIndex(of: $0)!] } ?? 0
            wrong[cell] = wrong[cell] == 1 ? 2 : 1
            #expect(!check(input, wrong), "\(task) example \(i): a corrupted label passed")
        }
    }
}
