/// Reads the state dict in a `torch.save` file without PyTorch and without running any of its code.
///
/// The format (PyTorch >= 1.6): a zip archive of stored (uncompressed) entries, `<name>/data.pkl` holding a
/// pickle of the object and `<name>/data/<key>` holding each storage's raw little-endian bytes. The pickle
/// is interpreted by a small machine that knows only what a state dict needs: containers, strings and
/// numbers, `collections.OrderedDict`, the storage classes of float32/bfloat16/float16, and torch's tensor
/// rebuild functions. Any other global (any other class or function) is refused, so a crafted file can
/// neither run code nor make this reader allocate more than the file's own size (docs/pytorch.md).
package enum TorchCheckpoint {
    package static func read(_ path: String) throws(TRMError) -> SafeTensors {
        let bytes = try readFile(path)
        let entries = try ZipArchive.entries(bytes, file: path)
        let pickles = entries.keys.filter { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
        guard pickles.count == 1, let pickleName = pickles.first else {
            throw .format("\(path): a zip archive without exactly one data.pkl; not a torch.save file")
        }
        let root = String(pickleName.dropLast("data.pkl".count))
        var machine = PickleMachine(bytes: bytes, range: entries[pickleName]!, file: path)
        let object = try machine.run()
        var state = object
        // Dicts that wrap the state dict (other training scripts): {"state_dict": {...}} and the like.
        for key in ["state_dict", "model", "model_state_dict"] {
            if case .dict(let d) = state, let inner = d.value(for: key), case .dict = inner { state = inner }
        }
        guard case .dict(let dict) = state else { throw .format("\(path): holds \(state.kind), not a state dict") }
        var out = SafeTensors()
        for (key, value) in dict.items {
            guard case .string(let name) = key else { throw .format("\(path): a state-dict key is \(key.kind), not a string") }
            guard case .tensor(let ref) = value else { throw .format("\(path): '\(name)' is \(value.kind), not a tensor") }
            guard let range = entries[root + "data/" + ref.key] else {
                throw .format("\(path): '\(name)' refers to a storage data/\(ref.key) the archive does not hold")
            }
            out.tensors.append((name, try ref.materialize(bytes, storage: range, name: name, file: path)))
        }
        return out
    }
}

/// A tensor in the pickle: a view (offset, sizes, strides, in elements) of a storage in the archive.
struct TorchTensorRef {
    var key: String
    var dtype: SafeTensors.DType
    var storageCount: Int
    var offset: Int
    var sizes: [Int]
    var strides: [Int]

    /// The elements of the view, gathered in row-major order, after checking every index against the storage.
    func materialize(_ bytes: [UInt8], storage: Range<Int>, name: String, file: String) throws(TRMError) -> SafeTensors.Tensor {
        let width = dtype.width
        guard storage.count == storageCount * width else {
            throw .format("\(file): '\(name)': its storage holds \(storage.count) bytes, the pickle says \(storageCount) elements")
        }
        guard sizes.count == strides.count, sizes.count <= 8, offset >= 0, sizes.allSatisfy({ $0 >= 0 }),
              strides.allSatisfy({ $0 >= 0 }) else {
            throw .format("\(file): '\(name)' has a bad view (sizes \(sizes), strides \(strides), offset \(offset))")
        }
        var count = 1, last = offset, overflow = false
        for (n, s) in zip(sizes, strides) {
            let c = count.multipliedReportingOverflow(by: n)
            let step = (n > 0 ? n - 1 : 0).multipliedReportingOverflow(by: s)
            let reach = last.addingReportingOverflow(step.partialValue)
            overflow = overflow || c.overflow || step.overflow || reach.overflow
            count = c.partialValue
            last = reach.partialValue
        }
        guard !overflow, count == 0 || last < storageCount else {
            throw .format("\(file): '\(name)' reaches past its storage (sizes \(sizes), strides \(strides), offset \(offset))")
        }
        // A contiguous row-major view (every state dict tensor torch.save writes) is one copy.
        var contiguous = 1
        let isContiguous = zip(sizes, strides).reversed().allSatisfy { n, s in
            defer { contiguous *= n }
            return n == 1 || s == contiguous
        }
        if isContiguous {
            let from = storage.lowerBound + offset * width
            return SafeTensors.Tensor(dtype: dtype, shape: sizes, bytes: Array(bytes[from..<(from + count * width)]))
        }
        var out = [UInt8](repeating: 0, count: count * width)
        if count > 0 {
            var index = [Int](repeating: 0, count: sizes.count)
            for i in 0..<count {
                var element = offset
                for d in 0..<sizes.count { element += index[d] * strides[d] }
                let from = storage.lowerBound + element * width
                for b in 0..<width { out[i * width + b] = bytes[from + b] }
                var d = sizes.count - 1
                while d >= 0 {
                    index[d] += 1
                    if index[d] < sizes[d] { break }
                    index[d] = 0
                    d -= 1
                }
            }
        }
        return SafeTensors.Tensor(dtype: dtype, shape: sizes, bytes: out)
    }
}

/// The values the pickle machine builds.
indirect enum PickleValue {
    case none, bool(Bool), int(Int), float(Double), string(String)
    case tuple([PickleValue]), list(PickleList), dict(PickleDict)
    case global(String)
    case storage(key: String, dtype: SafeTensors.DType, count: Int)
    case tensor(TorchTensorRef)

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .float: return "a float"
        case .string: return "a string"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case .global(let g): return g
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        }
    }
}

/// Mutable containers: pickle fills them after they are created and memoised.
final class PickleList { var items: [PickleValue] = [] }
final class PickleDict {
    var items: [(key: PickleValue, value: PickleValue)] = []
    func value(for key: String) -> PickleValue? {
        items.first { if case .string(key) = $0.key { return true } else { return false } }?.value
    }
}

/// A pickle interpreter for protocols 2 to 5 restricted to state dicts (see TorchCheckpoint).
struct PickleMachine {
    let bytes: [UInt8]
    var at: Int
    let end: Int
    let file: String
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]

    init(bytes: [UInt8], range: Range<Int>, file: String) {
        self.bytes = bytes
        at = range.lowerBound
        end = range.upperBound
        self.file = file
    }

    static let storages: [String: SafeTensors.DType] = [
        "torch.FloatStorage": .f32, "torch.BFloat16Storage": .bf16, "torch.HalfStorage": .f16,
    ]
    static let functions: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    ]

    func fail(_ message: String) -> TRMError { .format("\(file): data.pkl: \(message)") }

    mutating func byte() throws(TRMError) -> UInt8 {
        guard at < end else { throw fail("ends in the middle of an instruction") }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func take(_ n: Int) throws(TRMError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= end - at else { throw fail("ends in the middle of an instruction") }
        defer { at += n }
        return bytes[at..<at + n]
    }

    mutating func uint(_ n: Int) throws(TRMError) -> Int {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        guard v <= UInt64(Int.max) else { throw fail("a length out of range") }
        return Int(v)
    }

    mutating func pop() throws(TRMError) -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw fail("pops an empty stack") }
        return stack.removeLast()
    }

    mutating func popMark() throws(TRMError) -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fail("no MARK for a collection") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    mutating func text(_ n: Int) throws(TRMError) -> String {
        guard let s = String(validating: try take(n), as: UTF8.self) else { throw fail("a string that is not UTF-8") }
        return s
    }

    mutating func global(_ name: String) throws(TRMError) -> PickleValue {
        if let dtype = PickleMachine.storages[name] { return .storage(key: "", dtype: dtype, count: 0) }
        guard PickleMachine.functions.contains(name) else {
            throw fail("refers to \(name); only tensors, containers and numbers are read from a checkpoint (a state dict)")
        }
        return .global(name)
    }

    /// Runs to STOP and returns the object.
    mutating func run() throws(TRMError) -> PickleValue {
        while true {
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                   // PROTO
            case 0x95: _ = try take(8)                                  // FRAME
            case 0x2E:                                                  // STOP
                guard stack.count == 1, marks.isEmpty else { throw fail("ends with \(stack.count) values on the stack") }
                return stack[0]
            case 0x28: marks.append(stack.count)                        // MARK
            case 0x4E: stack.append(.none)                              // NONE
            case 0x88: stack.append(.bool(true))                        // NEWTRUE
            case 0x89: stack.append(.bool(false))                       // NEWFALSE
            case 0x4B: stack.append(.int(try uint(1)))                  // BININT1
            case 0x4D: stack.append(.int(try uint(2)))                  // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x8A:                                                  // LONG1
                let n = Int(try byte())
                guard n <= 8 else { throw fail("an integer wider than 64 bits") }
                let raw = Array(try take(n))
                var v: UInt64 = 0
                for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
                if n > 0 && n < 8 && raw[n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }  // sign-extend
                stack.append(.int(Int(Int64(bitPattern: v))))
            case 0x47:                                                  // BINFLOAT (big-endian)
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                stack.append(.float(Double(bitPattern: v)))
            case 0x58: stack.append(.string(try text(try uint(4))))     // BINUNICODE
            case 0x8C: stack.append(.string(try text(try uint(1))))     // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try text(try uint(8))))     // BINUNICODE8
            case 0x55: stack.append(.string(try text(try uint(1))))     // SHORT_BINSTRING
            case 0x29: stack.append(.tuple([]))                         // EMPTY_TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))          // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x74: stack.append(.tuple(try popMark()))              // TUPLE
            case 0x5D: stack.append(.list(PickleList()))                // EMPTY_LIST
            case 0x6C: let l = PickleList(); l.items = try popMark(); stack.append(.list(l))  // LIST
            case 0x7D: stack.append(.dict(PickleDict()))                // EMPTY_DICT
            case 0x64: try fillDict(try popMark(), into: nil)           // DICT
            case 0x61: let v = try pop(); try append([v])               // APPEND
            case 0x65: try append(try popMark())                        // APPENDS
            case 0x73: let v = try pop(), k = try pop(); try setItems([k, v])  // SETITEM
            case 0x75: try setItems(try popMark())                      // SETITEMS
            case 0x71: try put(try uint(1))                             // BINPUT
            case 0x72: try put(try uint(4))                             // LONG_BINPUT
            case 0x94: try put(memo.count)                              // MEMOIZE
            case 0x68: try get(try uint(1))                             // BINGET
            case 0x6A: try get(try uint(4))                             // LONG_BINGET
            case 0x63:                                                  // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                stack.append(try global(module + "." + name))
            case 0x93:                                                  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL without two strings")
                }
                stack.append(try global(module + "." + name))
            case 0x51:                                                  // BINPERSID
                stack.append(try persistent(try pop()))
            case 0x52:                                                  // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args))
            case 0x62:                                                  // BUILD: object state (a dict's _metadata); ignored
                _ = try pop()
                guard !stack.isEmpty else { throw fail("BUILD on an empty stack") }
            default:
                throw fail("opcode 0x\(String(op, radix: 16)) at byte \(at - 1) is not one a state dict uses")
            }
            guard stack.count <= 1 << 20, marks.count <= 1 << 16 else { throw fail("too many values") }
        }
    }

    mutating func line() throws(TRMError) -> String {
        var s: [UInt8] = []
        while true {
            let b = try byte()
            if b == 0x0A { break }
            s.append(b)
            guard s.count <= 256 else { throw fail("a GLOBAL name longer than 256 bytes") }
        }
        return String(decoding: s, as: UTF8.self)
    }

    mutating func put(_ index: Int) throws(TRMError) {
        guard let top = stack.last else { throw fail("memoises an empty stack") }
        memo[index] = top
    }

    mutating func get(_ index: Int) throws(TRMError) {
        guard let v = memo[index] else { throw fail("refers to memo entry \(index), never stored") }
        stack.append(v)
    }

    mutating func append(_ items: [PickleValue]) throws(TRMError) {
        guard case .list(let l)? = stack.last else { throw fail("APPEND to something not a list") }
        l.items += items
    }

    mutating func setItems(_ flat: [PickleValue]) throws(TRMError) {
        guard case .dict(let d)? = stack.last else { throw fail("SETITEM on something not a dict") }
        try fillDict(flat, into: d)
    }

    mutating func fillDict(_ flat: [PickleValue], into target: PickleDict?) throws(TRMError) {
        guard flat.count % 2 == 0 else { throw fail("a dict with an odd number of keys and values") }
        let d = target ?? PickleDict()
        for i in stride(from: 0, to: flat.count, by: 2) { d.items.append((flat[i], flat[i + 1])) }
        if target == nil { stack.append(.dict(d)) }
    }

    /// ('storage', storage class, key, location, element count)
    func persistent(_ id: PickleValue) throws(TRMError) -> PickleValue {
        guard case .tuple(let t) = id, t.count == 5, case .string("storage") = t[0],
              case .storage(_, let dtype, _) = t[1], case .string(let key) = t[2], case .int(let count) = t[4], count >= 0,
              key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw fail("a persistent id that is not a float32, bfloat16 or float16 storage (other dtypes are not model weights)")
        }
        return .storage(key: key, dtype: dtype, count: count)
    }

    func ints(_ v: PickleValue, _ what: String) throws(TRMError) -> [Int] {
        guard case .tuple(let items) = v else { throw fail("\(what) is not a tuple") }
        var out: [Int] = []
        for item in items {
            guard case .int(let i) = item else { throw fail("\(what) holds \(item.kind)") }
            out.append(i)
        }
        return out
    }

    func reduce(_ callable: PickleValue, _ args: PickleValue) throws(TRMError) -> PickleValue {
        guard case .global(let name) = callable, case .tuple(let a) = args else { throw fail("REDUCE without a known function") }
        switch name {
        case "collections.OrderedDict":
            guard a.isEmpty else { throw fail("OrderedDict built from arguments") }
            return .dict(PickleDict())
        case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
            guard a.count >= 4, case .storage(let key, let dtype, let count) = a[0], case .int(let offset) = a[1] else {
                throw fail("\(name) without a storage and an offset")
            }
            return .tensor(TorchTensorRef(key: key, dtype: dtype, storageCount: count, offset: offset,
                                          sizes: try ints(a[2], "a tensor's sizes"), strides: try ints(a[3], "a tensor's strides")))
        default:  // _rebuild_parameter(_with_state): the parameter's data is its first argument
            guard let data = a.first, case .tensor = data else { throw fail("\(name) without a tensor") }
            return data
        }
    }
}

/// The stored entries of a zip archive (what torch.save writes), zip64 included; compressed entries are refused.
enum ZipArchive {
    static func entries(_ b: [UInt8], file: String) throws(TRMError) -> [String: Range<Int>] {
        func fail(_ m: String) -> TRMError { .format("\(file): not a readable torch.save archive (\(m))") }
        func u(_ at: Int, _ n: Int) throws(TRMError) -> Int {
            guard at >= 0, n <= 8, at <= b.count - n else { throw fail("a record runs past the end") }
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(b[at + i]) << (8 * UInt64(i)) }
            guard v <= UInt64(Int.max) else { throw fail("an offset out of range") }
            return Int(v)
        }
        // The end-of-central-directory record: within the last 64 KiB + 22 bytes.
        var eocd = -1
        var i = b.count - 22
        while i >= max(0, b.count - 22 - 65_535) {
            if b[i] == 0x50, b[i + 1] == 0x4B, b[i + 2] == 0x05, b[i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record") }
        var count = try u(eocd + 10, 2), directory = try u(eocd + 16, 4)
        if count == 0xFFFF || directory == 0xFFFF_FFFF {  // zip64: the locator sits just before
            guard eocd >= 20, try u(eocd - 20, 4) == 0x0706_4B50 else { throw fail("no zip64 locator") }
            let record = try u(eocd - 12, 8)
            guard try u(record, 4) == 0x0606_4B50 else { throw fail("no zip64 end record") }
            count = try u(record + 32, 8)
            directory = try u(record + 48, 8)
        }
        guard count <= 1 << 20 else { throw fail("\(count) entries") }
        var out: [String: Range<Int>] = [:]
        var at = directory
        for _ in 0..<count {
            guard try u(at, 4) == 0x0201_4B50 else { throw fail("a bad central directory entry") }
            let method = try u(at + 10, 2)
            var size = try u(at + 20, 4), stored = try u(at + 24, 4), local = try u(at + 42, 4)
            let nameLength = try u(at + 28, 2), extraLength = try u(at + 30, 2), commentLength = try u(at + 32, 2)
            guard nameLength <= b.count - at - 46 else { throw fail("an entry name runs past the end") }
            let name = String(decoding: b[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            // zip64 extended information replaces the fields that read 0xFFFFFFFF, in this order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = try u(extra, 2), length = try u(extra + 2, 2)
                if id == 1 {
                    var field = extra + 4
                    if stored == 0xFFFF_FFFF { stored = try u(field, 8); field += 8 }
                    if size == 0xFFFF_FFFF { size = try u(field, 8); field += 8 }
                    if local == 0xFFFF_FFFF { local = try u(field, 8) }
                }
                extra += 4 + length
            }
            guard method == 0, size == stored else { throw fail("entry \(name) is compressed; torch.save stores entries") }
            guard try u(local, 4) == 0x0403_4B50 else { throw fail("entry \(name) has no local header") }
            let data = local + 30 + (try u(local + 26, 2)) + (try u(local + 28, 2))
            guard data <= b.count, size <= b.count - data else { throw fail("entry \(name) runs past the end") }
            guard out[name] == nil else { throw fail("entry \(name) appears twice") }
            out[name] = data..<(data + size)
            at = extraEnd + commentLength
        }
        return out
    }
}
