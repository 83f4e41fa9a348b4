"""BibTeX entries cited by more than one optimizer spec (``OptimizerSpec.citations``).

An entry used by one spec only lives in that spec's module. Keys follow
``<first author><year><first word of the title>``; the appendix's bibliography
(:mod:`nctheory.render.bibliography`) refuses two different entries under one key.
The module's name starts with ``_``, so the registry does not take it for an optimizer.
"""

LOSHCHILOV2019 = r"""@inproceedings{loshchilov2019decoupled,
  author    = {Loshchilov, Ilya and Hutter, Frank},
  title     = {Decoupled Weight Decay Regularization},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2019}
}"""

JORDAN2024 = r"""@misc{jordan2024muon,
  author       = {Jordan, Keller and Jin, Yuchen and Boza, Vlado and You, Jiacheng and Cesista, Franz
                  and Newhouse, Laker and Bernstein, Jeremy},
  title        = {Muon: An Optimizer for Hidden Layers in Neural Networks},
  year         = {2024},
  howpublished = {\url{https://kellerjordan.github.io/posts/muon/}}
}"""

TIELEMAN2012 = r"""@misc{tieleman2012lecture,
  author       = {Tieleman, Tijmen and Hinton, Geoffrey},
  title        = {Lecture 6.5 -- {RMSProp}: Divide the Gradient by a Running Average of Its Recent Magnitude},
  howpublished = {COURSERA: Neural Networks for Machine Learning},
  year         = {2012}
}"""

KINGMA2015 = r"""@inproceedings{kingma2015adam,
  author    = {Kingma, Diederik P. and Ba, Jimmy},
  title     = {Adam: A Method for Stochastic Optimization},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2015}
}"""

GUPTA2018 = r"""@inproceedings{gupta2018shampoo,
  author    = {Gupta, Vineet and Koren, Tomer and Singer, Yoram},
  title     = {Shampoo: Preconditioned Stochastic Tensor Optimization},
  booktitle = {Proceedings of the 35th International Conference on Machine Learning (ICML)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {80},
  pages     = {1842--1850},
  year      = {2018}
}"""
