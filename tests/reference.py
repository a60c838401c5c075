"""The lecture's worked examples: the numbers the tests check adiff against, kept in the repository.

Source: the lecture on tf.GradientTape that adiff grew out of, as transcribed in the project's
REFERENCE.md (sections 1-4). Values are exact float64 unless noted; TensorFlow printed float32
digits. Tests import these names and read no file outside the repository.
"""

from __future__ import annotations

# --- REFERENCE.md section 1: chain rule, f(x) = exp(sin(x^2)) at x = 2 ---------------------------

CHAIN_PROGRAM = "v = x^2; u = sin(v); f = exp(u)"  # the named steps, as a GradientTape user writes them
CHAIN_X = 2.0
CHAIN_V = 4.0  # forward values, 10 decimals in REFERENCE.md section 1
CHAIN_U = -0.7568024953
CHAIN_F = 0.4691641859
# (target, wrt) -> float64 partial; df/dv holds v independent (the adjoint of v)
CHAIN_PARTIALS = {
    ("f", "u"): 0.46916418587400077,
    ("u", "v"): -0.6536436208636119,
    ("v", "x"): 4.0,
    ("f", "v"): -0.3066661772342105,
    ("f", "x"): -1.226664708936842,
    ("u", "x"): -2.6145744834544478,
}
CHAIN_DF_DX = CHAIN_PARTIALS[("f", "x")]
# TensorFlow's float32 column (its shortest float32 digits). TF's float32 cos(4) is -0.65364367,
# one unit in the last place from the correctly rounded -0.6536436 that numpy (and so adiff)
# computes: the partials through du/dv differ from TF's in the last digit for that reason alone.
CHAIN_PARTIALS_TF_FLOAT32 = {("f", "u"): "0.4691642", ("u", "v"): "-0.65364367", ("v", "x"): "4.0",
                             ("f", "v"): "-0.3066662", ("f", "x"): "-1.2266648", ("u", "x"): "-2.6145747"}
TF_FLOAT32_COS_4 = "-0.65364367"
# The same partials from TensorFlow 2.21.0 (tensorflow-cpu from PyPI, run on the development
# machine on 2026-12-04: tf.GradientTape(persistent=True), float32 variable x = 2, printed with
# repr): its float32 cos(4) is the correctly rounded -0.6536436, and every number equals adiff's.
CHAIN_PARTIALS_TF221_FLOAT32 = {("f", "u"): "0.4691642", ("u", "v"): "-0.6536436", ("f", "v"): "-0.30666617",
                                ("f", "x"): "-1.2266647", ("u", "x"): "-2.6145744"}
CHAIN_F_TF221_FLOAT32 = "0.4691642"
CHAIN_LECTURE_FD_STEP = 1e-3  # the lecture's central difference (Octave), h = 1e-3 ...
CHAIN_LECTURE_FD_4_DIGITS = -1.2267  # ... printed with 5 digits

# --- REFERENCE.md section 2: perceptron with sigmoid and squared error ---------------------------

PERCEPTRON_PROGRAM = "z = w1*i1 + w2*i2 + b; p = sigmoid(z); c = (p - y)^2"
PERCEPTRON_AT = {"i1": 0.5, "i2": -0.3, "y": 0.4, "w1": -0.2, "w2": 0.2, "b": 0.1}
PERCEPTRON_C = 0.0072257647  # forward value, 10 decimals
PERCEPTRON_DC_DP = 0.1700089968  # local derivative 2p - 2y, 10 decimals
PERCEPTRON_DP_DZ = 0.2497751349  # local derivative p(1 - p), 10 decimals
PERCEPTRON_GRADIENTS = {"w1": 0.021232010052769302, "w2": -0.01273920603166158, "b": 0.042464020105538604}

# --- REFERENCE.md section 3: convolution, relu, mean, absolute error ------------------------------

CONV_A = [[0.4, 0.2, 0.7], [0.9, 0.1, 0.5]]  # input, constant
CONV_K = [[0.3, -0.4], [-0.2, 0.5]]  # kernel, the variable
CONV_Y = 0.01
CONV_F = [[-0.09, 0.01]]  # F = conv2d(A, K), "valid" cross-correlation (no kernel flip)
CONV_C = 0.005  # c = abs(mean(relu(F)) - y)
CONV_DC_DP = -1.0  # p < y
CONV_DC_DK = [[-0.1, -0.35], [-0.05, -0.25]]
CONV_DC_DG = [[-0.5, -0.5]]
CONV_DC_DF = [[0.0, -0.5]]
CONV_DSUMF_DK = [[0.6, 0.9], [1.0, 0.6]]  # dF/dK as the gradient of sum(F)

# --- REFERENCE.md section 4: a 2-2-2 dense network trained with SGD (from3) ----------------------

DENSE_X = [[0.9, 0.1], [0.1, 0.9]]  # inputs
DENSE_Y = [[0.1, 0.9], [0.9, 0.1]]  # targets: the network learns to swap them
DENSE_W0 = [[0.3, -0.8], [-0.4, 0.2]]  # W1 = W2 initially; b1 = b2 = [0, 0]
DENSE_LEARNING_RATE = 1.0
DENSE_EPOCHS = 120  # batch size 1, in order, no shuffling
DENSE_QUERIES = [[0.9, 0.1], [0.1, 0.9], [0.8, 0.0], [0.2, 0.9]]
# the lecture's float32 debug trace after training; float64 agrees to about 1e-7
DENSE_HIDDEN = [[0.12746507, 0.11996861], [0.21436849, 0.6516889], [0.14070073, 0.12929733],
                [0.19863003, 0.60348326]]
DENSE_OUTPUT = [[0.1, 0.9], [0.9, 0.10000002], [0.11852115, 0.8831827], [0.82446176, 0.17439479]]
