import ArgumentParser
import TRMDIS
import TRMDISTasks

/// Writes a freshly initialised model (safetensors, PyTorch names, configuration in the metadata).
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a freshly initialised model to a safetensors file.")
    @OptionGroup var model: ModelOptions
    @Option(help: "Seed of the initialisation.") var seed: UInt64 = 0
    @Option(help: "Rows of the puzzle-embedding table.") var puzzleIdentifiers: Int?
    @Option(help: "Output file.") var out: String

    func run() throws {
        var c = try model.config()
        if let puzzleIdentifiers { c.numPuzzleIdentifiers = puzzleIdentifiers }
        let m = try Model(config: c, seed: seed)
        try m.save(to: out)
        print("wrote \(out): \(m.parameterCount) parameters")
    }
}
